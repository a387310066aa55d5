/** What the SVG and HTML the library writes (memory map, timeline) share: escaping and coordinates. */
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Text safe inside an element or an attribute value. */
export function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A coordinate to two decimals: short output, and below a pixel's hundredth nobody sees. */
export function fixed(n: number): string {
  return String(Math.round(n * 100) / 100);
}
