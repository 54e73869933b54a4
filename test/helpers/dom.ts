import { DomUtils, parseDocument } from "htmlparser2";

type Doc = ReturnType<typeof parseDocument>;
type El = ReturnType<typeof DomUtils.getElementsByTagName>[number];

/** Parses HTML (or SVG as XML, strictly enough that a stray "<" or control character shows up). */
export function parse(markup: string, xml = false): Doc {
  return parseDocument(markup, { xmlMode: xml, decodeEntities: true });
}

export const all = (doc: Doc): El[] => DomUtils.findAll(() => true, doc.children);
export const byTag = (doc: Doc, tag: string): El[] => DomUtils.getElementsByTagName(tag, doc, true);
export const text = (el: El | Doc): string => DomUtils.textContent(el);

/**
 * The markup-injection checks every card must pass: no script-capable element, no event
 * handler attribute, no javascript: URL anywhere.
 */
export function unsafeBits(doc: Doc): string[] {
  const found: string[] = [];
  for (const el of all(doc)) {
    if (["script", "iframe", "object", "embed", "foreignobject", "foreignObject"].includes(el.name))
      found.push(`<${el.name}>`);
    for (const [name, value] of Object.entries(el.attribs)) {
      if (/^on/i.test(name)) found.push(`${el.name}[${name}]`);
      if (/^\s*javascript:/i.test(value)) found.push(`${el.name}[${name}=javascript:]`);
    }
  }
  return found;
}
