/**
 * Escaping for the two contexts widgets write into: HTML/XML text and double-quoted
 * attribute values (one function serves both, since it escapes quotes too). CSS never
 * receives free text: the only dynamic CSS value is a validated hex colour. URLs go
 * through render/urls.ts before they get here.
 */

// Characters XML 1.0 forbids (C0 controls except tab/LF/CR, U+FFFE/FFFF, lone surrogates).
// One of them in an SVG makes the whole image fail to parse, so they are dropped.
const INVALID_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// XML 1.0 allows C1 controls and DEL but discourages them (§2.2): no reader shows them, and
// feeds (render/feed.ts) drop them with the forbidden ones, in XML and JSON alike.
const FEED_UNWANTED = new RegExp(`${INVALID_XML.source}|[\\u007F-\\u009F]`, "g");

/** A string with every character XML forbids or discourages as a control removed (feeds, XML and JSON). */
export function plain(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  return String(value).replace(FEED_UNWANTED, "");
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes a string for HTML or XML text and attribute values. */
export function esc(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  return String(value)
    .replace(INVALID_XML, "")
    .replace(/[&<>"']/g, (ch) => ENTITIES[ch] ?? ch);
}

/** Shortens to `max` user-visible characters (code points, so emoji are never split). */
export function truncate(value: string, max: number): string {
  const chars = [...value];
  return chars.length <= max
    ? value
    : `${chars
        .slice(0, max - 1)
        .join("")
        .trimEnd()}…`;
}

/** BeatPass-style URL slug: lowercase ASCII words joined by "-". */
export function slugify(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return slug || "item";
}
