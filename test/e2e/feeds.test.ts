import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Validator } from "@cfworker/json-schema";
import { extractFromJson, extractFromXml } from "@extractus/feed-extractor";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { parseAtomFeed, parseJsonFeed, parseRssFeed } from "feedsmith";
import type { Browser } from "playwright-core";
import RssParser from "rss-parser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ALBUMS, GENRES, PLAYLISTS, TRACKS } from "../../fake/catalog.mjs";
import { HAVE_CHROMIUM, launch } from "./chromium";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Feeds as feed readers meet them, read by parsers nobody here wrote: feedsmith, rss-parser
 * and @extractus/feed-extractor for Atom and RSS (fast-xml-parser checks the XML is
 * well-formed), feedsmith, feed-extractor and a JSON Schema of JSON Feed 1.1
 * (schemas/jsonfeed-1.1.schema.json, written from the spec) for JSON Feed. What they read is
 * checked against the fake BeatPass's catalogue (fake/catalog.mjs), never against src/.
 * Chromium then finds the feeds a card page advertises, as a browser extension or a feed
 * reader's "add by page URL" does, and a parser subscribes to what it found.
 */

const stack = inject("stack");
const EXTS = ["atom", "rss", "json"] as const;
type Ext = (typeof EXTS)[number];

interface Expected {
  id: string;
  title: string;
  link: RegExp;
  date: number;
}

const track = (t: (typeof TRACKS)[number]): Expected => ({
  id: `https://beatpass.ca/track/${t.id}`,
  title: t.name,
  link: new RegExp(`^https://beatpass\\.ca/track/${t.id}/[a-z0-9-]+$`),
  date: Date.parse(t.created_at),
});
const album = (a: (typeof ALBUMS)[number]): Expected => ({
  id: `https://beatpass.ca/album/${a.id}`,
  title: a.name,
  link: new RegExp(`^https://beatpass\\.ca/album/${a.id}/[a-z0-9-]+$`),
  date: Date.parse(`${a.release_date}T00:00:00Z`),
});
const byId = new Map(TRACKS.map((t) => [t.id, t]));
const unique = <T extends { id: string }>(xs: T[]) => [...new Map(xs.map((x) => [x.id, x])).values()];

/** What each feed must hold, from the fake's data: docs/feeds.md says which lists each reads. */
const FEEDS: { path: string; title: RegExp; expected: Expected[] }[] = [
  {
    path: "/feeds/artist/3",
    title: /^Lumen Loops/,
    expected: [
      ...TRACKS.filter((t) => t.artist_ids.includes(3)).map(track),
      ...ALBUMS.filter((a) => a.artist_id === 3).map(album),
    ],
  },
  {
    path: "/feeds/playlist/6",
    title: /^Fresh Finds/,
    expected: unique(PLAYLISTS[5]!.track_ids.map((id) => track(byId.get(id)!))),
  },
  {
    path: "/feeds/genre/trap",
    title: /^Trap/,
    expected: TRACKS.filter((t) => t.genre_ids.includes(GENRES.find((g) => g.name === "trap")!.id)).map(track),
  },
  {
    path: "/feeds/tag/mellow",
    title: /mellow/,
    expected: TRACKS.filter((t) => t.tag_ids.includes(303)).map(track),
  },
];

interface Parsed {
  title: string;
  items: { id: string; title: string; link: string; date: number }[];
}

const str = (v: unknown): string =>
  typeof v === "string" ? v : v && typeof v === "object" && "value" in v ? String((v as { value: unknown }).value) : "";

/** The feed as each parser reads it. */
async function parsers(ext: Ext, body: string): Promise<Record<string, Parsed>> {
  if (ext === "json") {
    const fs = parseJsonFeed(JSON.parse(body));
    const ex = extractFromJson(JSON.parse(body), { normalization: false }) as { title: string; items: any[] };
    return {
      feedsmith: {
        title: fs.title ?? "",
        items: (fs.items ?? []).map((i) => ({
          id: i.id ?? "",
          title: i.title ?? "",
          link: i.url ?? "",
          date: Date.parse(String(i.date_published)),
        })),
      },
      "feed-extractor": {
        title: ex.title,
        items: ex.items.map((i) => ({ id: i.id, title: i.title, link: i.url, date: Date.parse(i.date_published) })),
      },
    };
  }
  const rss = await new RssParser().parseString(body);
  const ex = extractFromXml(body, { normalization: true, useISODateFormat: true }) as {
    title: string;
    entries: { id: string; title: string; link: string; published: string }[];
  };
  const common = {
    "rss-parser": {
      title: rss.title ?? "",
      items: rss.items.map((i) => ({
        id: (ext === "atom" ? i.id : i.guid) ?? "",
        title: i.title ?? "",
        link: i.link ?? "",
        date: Date.parse(i.isoDate ?? ""),
      })),
    },
    "feed-extractor": {
      title: ex.title,
      items: ex.entries.map((e) => ({ id: e.id, title: e.title, link: e.link, date: Date.parse(e.published) })),
    },
  };
  if (ext === "atom") {
    const fs = parseAtomFeed(body);
    return {
      ...common,
      feedsmith: {
        title: str(fs.title),
        items: (fs.entries ?? []).map((e) => ({
          id: e.id ?? "",
          title: str(e.title),
          link: e.links?.find((l) => l.rel === "alternate")?.href ?? "",
          date: Date.parse(String(e.updated)),
        })),
      },
    };
  }
  const fs = parseRssFeed(body);
  return {
    ...common,
    feedsmith: {
      title: fs.title ?? "",
      items: (fs.items ?? []).map((i) => ({
        id: str(i.guid),
        title: i.title ?? "",
        link: i.link ?? "",
        date: Date.parse(String(i.pubDate)),
      })),
    },
  };
}

const jsonFeedSchema = new Validator(
  JSON.parse(readFileSync(new URL("./schemas/jsonfeed-1.1.schema.json", import.meta.url), "utf8")),
  "2020-12",
  false,
);

/** Namespaces and required elements RFC 4287 (§4.1.1, §4.1.2) and RSS 2.0 ask for. */
function checkStructure(ext: Ext, body: string): void {
  expect(XMLValidator.validate(body), "well-formed XML").toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" }).parse(body);
  const asList = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  if (ext === "atom") {
    const feed = doc.feed;
    expect(feed["@xmlns"]).toBe("http://www.w3.org/2005/Atom");
    for (const el of ["id", "title", "updated"]) expect(feed[el], `feed ${el}`).toBeDefined();
    expect(asList(feed.link).some((l) => l["@rel"] === "self")).toBe(true);
    // An atom:author on the feed, since not every entry is sure to have one.
    expect(feed.author).toBeDefined();
    for (const e of asList(feed.entry))
      for (const el of ["id", "title", "updated"]) expect(e[el], `entry ${el}`).toBeDefined();
  } else {
    expect(doc.rss["@version"]).toBe("2.0");
    const channel = doc.rss.channel;
    for (const el of ["title", "link", "description"]) expect(channel[el], `channel ${el}`).toBeDefined();
    for (const i of asList(channel.item)) expect(i.title ?? i.description).toBeDefined();
  }
}

describe("feeds read by parsers nobody here wrote", () => {
  for (const { path, title, expected } of FEEDS) {
    it.each(EXTS)(`${path}.%s`, async (ext) => {
      const res = await fetch(`${stack.base}${path}.${ext}`);
      const body = await res.text();
      expect(res.status, body.slice(0, 300)).toBe(200);
      if (ext === "json") expect(jsonFeedSchema.validate(JSON.parse(body)).errors).toEqual([]);
      else checkStructure(ext, body);
      const want = [...expected].sort((a, b) => b.date - a.date).slice(0, 50);
      expect(want.length, "the fake has entries for this feed").toBeGreaterThan(0);
      for (const [name, parsed] of Object.entries(await parsers(ext, body))) {
        expect(parsed.title, name).toMatch(title);
        expect(parsed.items.map((i) => i.id).sort(), name).toEqual(want.map((w) => w.id).sort());
        expect(
          parsed.items.map((i) => i.date),
          `${name}: newest first`,
        ).toEqual([...parsed.items.map((i) => i.date)].sort((a, b) => b - a));
        for (const item of parsed.items) {
          const w = want.find((x) => x.id === item.id)!;
          expect(item.title, `${name} ${item.id}`).toBe(w.title);
          expect(item.link, `${name} ${item.id}`).toMatch(w.link);
          // RSS dates are to the second (RFC 822); BeatPass's have no finer part here.
          expect(item.date, `${name} ${item.id} date`).toBe(w.date);
        }
      }
    });
  }
});

describe.skipIf(!HAVE_CHROMIUM)("feed discovery in real Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("a card page advertises its feeds; a parser subscribes to the discovered URL", async () => {
    const tab = await browser.newPage();
    await tab.goto(`${stack.base}/widget/artist/3`);
    const found = await tab.$$eval('link[rel="alternate"]', (links) =>
      links.map((l) => ({ type: l.getAttribute("type"), href: (l as HTMLLinkElement).href })),
    );
    const atom = found.find((l) => l.type === "application/atom+xml");
    const json = found.find((l) => l.type === "application/feed+json");
    expect(atom?.href).toBe(`${stack.base}/feeds/artist/3.atom`);
    expect(json?.href).toBe(`${stack.base}/feeds/artist/3.json`);
    const feed = await new RssParser().parseURL(atom!.href);
    expect(feed.title).toMatch(/^Lumen Loops/);
    expect(feed.items.length).toBe(FEEDS[0]!.expected.length);
    // The demo page: its cards' feeds in <head>, and a Follow line per card.
    await tab.goto(stack.base);
    const follow = await tab.$$eval("p.follow a", (as) => as.map((a) => (a as HTMLAnchorElement).href));
    expect(follow).toContain(`${stack.base}/feeds/artist/3.atom`);
    expect(follow).toContain(`${stack.base}/feeds/playlist/6.rss`);
    const sections = await tab.$$eval("section", (s) => s.length);
    expect(await tab.$$eval("p.follow", (p) => p.length)).toBe(sections);
    await tab.close();
  });

  it("the demo page's Follow lines pass axe-core", async () => {
    // The demo page's CSP allows only its own scripts: axe is let in by bypassing it here.
    const context = await browser.newContext({ bypassCSP: true });
    const tab = await context.newPage();
    await tab.goto(stack.base, { waitUntil: "networkidle" });
    await tab.addScriptTag({ content: axeSource });
    const violations = await tab.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (ctx: unknown) => Promise<{ violations: { id: string }[] }> } })
        .axe;
      return (await axe.run({ include: [["p.follow"]] })).violations.map((v) => v.id);
    });
    expect(violations).toEqual([]);
    await context.close();
  });

  it("the demo page's feed links in <head> answer with feeds", async () => {
    const tab = await browser.newPage();
    await tab.goto(stack.base);
    const head = await tab.$$eval('head link[rel="alternate"]', (ls) => ls.map((l) => (l as HTMLLinkElement).href));
    expect(head.length).toBeGreaterThanOrEqual(4);
    for (const href of head) {
      const res = await fetch(href);
      expect(res.status, href).toBe(200);
      expect(res.headers.get("Content-Type")).toMatch(/^application\/(atom\+xml|feed\+json)/);
    }
    await tab.close();
  });
});
