/**
 * A strict, small XML parser for tests: it accepts only well-formed XML 1.0 (one root element,
 * matched and nested tags, quoted and unique attributes, the five predefined entities and
 * character references, comments, processing instructions, CDATA) and throws on anything else.
 * Enough to check that a generated SVG would load in a browser, without a dependency.
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, entities decoded (not its children's). */
  text: string;
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  if (raw.includes("<")) throw new Error(`'<' in text or an attribute value at ${where}`);
  return raw.replace(/&([^;&\s]*);?/g, (match, body: string) => {
    if (!match.endsWith(";")) throw new Error(`an '&' that starts no entity at ${where}`);
    if (body in ENTITIES) return ENTITIES[body]!;
    const code = body.startsWith("#x") ? parseInt(body.slice(2), 16) : body.startsWith("#") ? parseInt(body.slice(1), 10) : NaN;
    if (!Number.isInteger(code)) throw new Error(`unknown entity &${body}; at ${where}`);
    return String.fromCodePoint(code);
  });
}

export function parseXml(source: string): XmlElement {
  let at = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skip = (prefix: string, end: string) => {
    const close = source.indexOf(end, at + prefix.length);
    if (close < 0) throw new Error(`unterminated ${prefix} at ${at}`);
    at = close + end.length;
  };
  while (at < source.length) {
    const lt = source.indexOf("<", at);
    const textEnd = lt < 0 ? source.length : lt;
    const text = source.slice(at, textEnd);
    if (stack.length > 0) stack.at(-1)!.text += decode(text, at);
    else if (text.trim() !== "") throw new Error(`text outside the root element at ${at}`);
    at = textEnd;
    if (lt < 0) break;
    if (source.startsWith("<!--", at)) skip("<!--", "-->");
    else if (source.startsWith("<?", at)) skip("<?", "?>");
    else if (source.startsWith("<![CDATA[", at)) {
      if (stack.length === 0) throw new Error(`CDATA outside the root element at ${at}`);
      const close = source.indexOf("]]>", at);
      if (close < 0) throw new Error(`unterminated CDATA at ${at}`);
      stack.at(-1)!.text += source.slice(at + 9, close);
      at = close + 3;
    } else if (source.startsWith("</", at)) {
      const name = NAME.exec(source.slice(at + 2))?.[0];
      const open = stack.pop();
      if (name === undefined || open?.name !== name) throw new Error(`</${name}> at ${at} closes <${open?.name}>`);
      at += 2 + name.length;
      while (/\s/.test(source[at] ?? "")) at++;
      if (source[at] !== ">") throw new Error(`malformed end tag at ${at}`);
      at++;
    } else {
      const name = NAME.exec(source.slice(at + 1))?.[0];
      if (name === undefined) throw new Error(`malformed tag at ${at}`);
      const element: XmlElement = { name, attributes: {}, children: [], text: "" };
      at += 1 + name.length;
      for (;;) {
        const space = /^\s*/.exec(source.slice(at))![0].length;
        at += space;
        if (source.startsWith("/>", at) || source[at] === ">") break;
        if (space === 0) throw new Error(`attributes must be separated by space at ${at}`);
        const attribute = /^([A-Za-z_:][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(source.slice(at));
        if (attribute === null) throw new Error(`malformed attribute at ${at}`);
        if (attribute[1]! in element.attributes) throw new Error(`attribute ${attribute[1]} twice at ${at}`);
        element.attributes[attribute[1]!] = decode(attribute[3] ?? attribute[4]!, at);
        at += attribute[0].length;
      }
      if (stack.length > 0) stack.at(-1)!.children.push(element);
      else if (root === undefined) root = element;
      else throw new Error(`a second root element <${name}> at ${at}`);
      if (source.startsWith("/>", at)) at += 2;
      else {
        at += 1;
        stack.push(element);
      }
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (root === undefined) throw new Error("no root element");
  return root;
}

/** Every element below (and including) `element`, depth first. */
export function allElements(element: XmlElement): XmlElement[] {
  return [element, ...element.children.flatMap(allElements)];
}
