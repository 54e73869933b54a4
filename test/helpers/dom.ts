import { DomUtils, parseDocument } from "htmlparser2";

type Doc = ReturnType<typeof parseDocument>;
type El = ReturnType<typeof DomUtils.getElementsByTagName>[number];

/** Parses HTML (or SVG as XML, strictly enough that a stray "<" or control character shows up). */
export function parse(markup: string, xml = false): Doc {
  return parseDocument(markup, { xmlMode: xml, decodeEntities: true });
}

export const all = (doc: Doc): El[] => DomUtils.findAll(() => true, doc.children);
export const byTag = (doc: Doc | El, tag: string): El[] => DomUtils.getElementsByTagName(tag, doc, true);
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

/**
 * The one script an HTML card page may carry: it posts the card's height to the embedding
 * page. Written out here rather than imported from src/render/page.ts, so that a change to
 * the script (or data reaching it) fails the card tests instead of following along silently.
 */
export const CARD_RESIZE_SCRIPT = `(function(){if(parent===window)return;var c=document.body.firstElementChild,last=0;if(!c||!window.ResizeObserver)return;new ResizeObserver(function(){var h=Math.ceil(c.getBoundingClientRect().height);if(h!==last){last=h;parent.postMessage({type:"beatpass-embed:resize",height:h},"*")}}).observe(c)})();`;

/**
 * unsafeBits for a card page: the same checks, except that one attribute-less <script> whose
 * text is exactly CARD_RESIZE_SCRIPT is allowed. A second copy, or any other script, is
 * reported. (Whether the page has that script at all is for the caller to assert.)
 */
export function cardUnsafeBits(doc: Doc): string[] {
  const found = unsafeBits(doc);
  const fixed = byTag(doc, "script").filter(
    (s) => Object.keys(s.attribs).length === 0 && text(s) === CARD_RESIZE_SCRIPT,
  );
  if (fixed.length > 0) found.splice(found.indexOf("<script>"), 1);
  return found;
}
