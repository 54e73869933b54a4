import { T } from "./files.mjs";

const ESCAPE = "src/render/escape.ts";
const FEED = "src/render/feed.ts";
const ENTRIES = "src/feeds/entries.ts";
const SEEN = "src/feeds/seen.ts";
const ROUTE = "src/routes/feeds.ts";

/**
 * Feeds are read by feed readers, chat bots and automations that show or act on every entry:
 * every upstream string escaped for XML (or cleaned for JSON), no link off the allowed hosts,
 * and dates that do not move, so nobody is told an old beat is new.
 */
export const FEEDS = [
  {
    id: "feed-plain-keeps-controls",
    file: ESCAPE,
    from: `return String(value).replace(FEED_UNWANTED, "");`,
    to: `return String(value);`,
    tests: [T.feeds],
    why: "One control character in a name makes the whole Atom or RSS document unparseable: the reader drops the feed.",
  },
  {
    id: "feed-plain-keeps-c1",
    file: ESCAPE,
    from: `\`\${INVALID_XML.source}|[\\\\u007F-\\\\u009F]\``,
    to: `\`\${INVALID_XML.source}\``,
    tests: [T.feeds],
    why: "C1 controls (U+0085 and the like) reach readers, which show them as boxes or line breaks.",
  },
  {
    id: "feed-xml-unescaped",
    file: FEED,
    from: "const x = (v: string | number | null | undefined) => esc(plain(v));",
    to: "const x = (v: string | number | null | undefined) => plain(v);",
    tests: [T.feeds],
    why: "Markup in a beat's name becomes elements in the feed: broken XML, or script in readers that render it.",
  },
  {
    id: "feed-atom-title-raw",
    file: FEED,
    from: `<title type="text">\${x(e.title)}</title>`,
    to: `<title type="text">\${e.title}</title>`,
    tests: [T.feeds],
    why: "An entry title holding < or & breaks the Atom feed for every subscriber.",
  },
  {
    id: "feed-rss-cdata",
    file: FEED,
    from: `<item><title>\${x(e.title)}</title>`,
    to: `<item><title><![CDATA[\${plain(e.title)}]]></title>`,
    tests: [T.feeds],
    why: 'A name holding "]]>" ends the CDATA section early: the rest of the name is parsed as markup.',
  },
  {
    id: "feed-json-title-raw",
    file: FEED,
    from: "title: plain(e.title),",
    to: "title: e.title,",
    tests: [T.feeds],
    why: "Control characters reach JSON Feed readers (as \\u escapes), which show them or choke on them.",
  },
  {
    id: "feed-image-any-host",
    file: ENTRIES,
    from: "image: allowedUrl(t.image, ctx.imageHosts),",
    to: "image: t.image ?? undefined,",
    tests: [T.feeds],
    why: "Readers fetch artwork from any host BeatPass's data names: subscribers' addresses leak to it.",
  },
  {
    id: "feed-date-created-ignored",
    file: ENTRIES,
    from: "raw: parseDate(t.created_at) ?? parseDate(t.release_date),",
    to: "raw: parseDate(t.release_date),",
    tests: [T.feeds],
    why: "Tracks are dated by another field than the one BeatPass documents: the order and the dates readers show are wrong.",
  },
  {
    id: "feed-date-zone-sign",
    file: ENTRIES,
    from: 'return z[1] === "+" ? utc - offset : utc + offset;',
    to: 'return z[1] === "+" ? utc + offset : utc - offset;',
    tests: [T.feeds],
    why: "A timestamp with an offset is misread by twice the offset: entries out of order, dated hours off.",
  },
  {
    id: "feed-date-impossible-day",
    file: ENTRIES,
    from: "if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1) return undefined;",
    to: "",
    tests: [T.feeds],
    why: "2025-02-31 is taken as March 3rd: an entry dated by a day BeatPass never gave.",
  },
  {
    id: "feed-sort-oldest-first",
    file: ENTRIES,
    from: ".sort((x, y) => y.e.date - x.e.date || x.i - y.i)",
    to: ".sort((x, y) => x.e.date - y.e.date || x.i - y.i)",
    tests: [T.feeds],
    why: "The feed keeps the 50 oldest entries: a new beat never shows up.",
  },
  {
    id: "feed-no-entry-cap",
    file: ENTRIES,
    from: ".slice(0, MAX_ENTRIES)",
    to: "",
    tests: [T.feeds],
    why: "Feeds grow past the documented 50 entries.",
  },
  {
    id: "feed-undated-request-time",
    file: ROUTE,
    from: "(id) => seen(id) ?? undated.get(id) ?? 0",
    to: "() => Date.now()",
    tests: [T.feeds],
    why: "Undated entries are dated by each request: every poll shows old beats as new.",
  },
  {
    id: "feed-seen-new-wins",
    file: SEEN,
    from: 's[id] = typeof known === "number" ? known : observed;',
    to: "s[id] = observed;",
    tests: [T.feeds],
    why: "Each refresh of the list re-dates undated entries: readers see them as new again.",
  },
  {
    id: "feed-seen-not-kept",
    file: SEEN,
    from: "const next: SeenRecord = { w: now, s };",
    to: "const next: SeenRecord = { w: now, s: {} };",
    tests: [T.feeds],
    why: "The first-seen record is stored empty: after a restart or a refresh, undated entries are new again.",
  },
  {
    id: "feed-ims-off-by-one",
    file: ROUTE,
    from: "Math.floor(feed.lastModified / 1000) * 1000 <= ims",
    to: "Math.floor(feed.lastModified / 1000) * 1000 < ims",
    tests: [T.feeds],
    why: "A reader sending back the Last-Modified it was given never gets a 304: every poll downloads the whole feed.",
  },
];
