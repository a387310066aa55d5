/** What the SVG and HTML the library writes (memory map, timeline) share: escaping and coordinates. */
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/**
 * Characters XML 1.0 cannot hold at all, not even as a reference: controls but tab and newlines,
 * U+FFFE and U+FFFF, and lone surrogates (pool names may hold any of them but the last, and a
 * loaded snapshot or history anything). One of them made the whole SVG one a browser refuses to load.
 */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text safe inside an element or an attribute value; a character XML cannot hold reads as its \uXXXX escape. */
export function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!).replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
}

/** A coordinate to two decimals: short output, and below a pixel's hundredth nobody sees. */
export function fixed(n: number): string {
  return String(Math.round(n * 100) / 100);
}
