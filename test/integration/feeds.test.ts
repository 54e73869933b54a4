import { describe, expect, it } from "vitest";
import { ARTISTS, TRACKS } from "../../fake/catalog.mjs";
import type { Env } from "../../src/env";
import { resetIsolate } from "../../src/isolate";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_MISS_LIMITS, DOCUMENTED_POLICY } from "../helpers/documented";
import { all, byTag, parse, text } from "../helpers/dom";
import { signedPurge } from "../helpers/purge";
import { type Called, call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { clockedMissBudget } from "../helpers/window";

// docs/feeds.md: the routes, their content types, and what they promise. Written out here,
// not imported from src/.
const TYPES = {
  atom: "application/atom+xml",
  rss: "application/rss+xml",
  json: "application/feed+json",
} as const;
type Ext = keyof typeof TYPES;
/** The elements each XML format (with its namespaces) may hold: RFC 4287, RSS 2.0, Media RSS, Dublin Core. */
const ELEMENTS = {
  atom: [
    "feed",
    "id",
    "title",
    "subtitle",
    "updated",
    "published",
    "link",
    "author",
    "name",
    "uri",
    "generator",
    "icon",
    "entry",
    "summary",
    "media:thumbnail",
  ],
  rss: [
    "rss",
    "channel",
    "title",
    "link",
    "description",
    "atom:link",
    "lastBuildDate",
    "generator",
    "image",
    "url",
    "item",
    "guid",
    "pubDate",
    "dc:creator",
    "enclosure",
    "media:thumbnail",
  ],
  json: [],
};
const EXTS = Object.keys(TYPES) as Ext[];
const FEEDS = ["/feeds/artist/3", "/feeds/playlist/6", "/feeds/genre/trap", "/feeds/tag/mellow"];
const LIST = DOCUMENTED_POLICY.list;
const S = 1000;
const SECRET = "purge-secret-for-tests-0123456789abcdef";

/** Titles, links, ids and dates of a feed's entries, read with a parser of no format's own (htmlparser2 or JSON.parse). */
function entries(ext: Ext, body: string): { title: string; link: string; id: string; date: number }[] {
  if (ext === "json") {
    return JSON.parse(body).items.map((i: Record<string, string>) => ({
      title: i.title,
      link: i.url,
      id: i.id,
      date: Date.parse(i.date_published ?? ""),
    }));
  }
  const doc = parse(body, true);
  if (ext === "atom") {
    return byTag(doc, "entry").map((e) => ({
      title: text(byTag(e, "title")[0]!),
      link: byTag(e, "link").find((l) => l.attribs.rel === "alternate")?.attribs.href ?? "",
      id: text(byTag(e, "id")[0]!),
      date: Date.parse(text(byTag(e, "updated")[0]!)),
    }));
  }
  return byTag(doc, "item").map((e) => ({
    title: text(byTag(e, "title")[0]!),
    link: text(byTag(e, "link")[0]!),
    id: text(byTag(e, "guid")[0]!),
    date: Date.parse(text(byTag(e, "pubDate")[0]!)),
  }));
}

const feed = (path: string, init: RequestInit = {}, env: Partial<Env> = {}) => call(path, init, env);

function expectFeed(res: Called, ext: Ext) {
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(new RegExp(`^${TYPES[ext].replace("+", "\\+")}(;|$)`));
  expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
  expect(Date.parse(res.headers.get("Last-Modified") ?? "")).toBeGreaterThan(0);
  expect(res.headers.get("Cache-Control")).toMatch(
    new RegExp(`^public, max-age=${LIST.soft}, s-maxage=${LIST.soft}, stale-while-revalidate=`),
  );
  expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
}

describe("feeds", () => {
  it.each(EXTS)("serves every kind as %s, newest first, with the fake's tracks", async (ext) => {
    for (const path of FEEDS) {
      const res = await feed(`${path}.${ext}`);
      expectFeed(res, ext);
      const got = entries(ext, res.text);
      expect(got.length, path).toBeGreaterThan(0);
      expect(got.length).toBeLessThanOrEqual(50);
      const dates = got.map((e) => e.date);
      expect(dates).toEqual([...dates].sort((a, b) => b - a));
      for (const e of got) {
        expect(e.link).toMatch(/^https:\/\/beatpass\.ca\/(track|album)\/\d+\/[a-z0-9-]+$/);
        expect(e.link.startsWith(`${e.id}/`), "the id is the page URL without its slug").toBe(true);
      }
    }
    // Artist 3's tracks as the fake has them (fake/catalog.mjs), each dated by its created_at.
    const mine = TRACKS.filter((t) => t.artist_ids.includes(3));
    const got = entries(ext, (await feed(`/feeds/artist/3.${ext}`)).text);
    for (const t of mine) {
      const e = got.find((x) => x.id === `https://beatpass.ca/track/${t.id}`);
      expect(e, `track ${t.id}`).toBeDefined();
      expect(e?.title).toBe(t.name);
      expect(e?.date).toBe(Date.parse(t.created_at));
    }
  });

  it("an unknown artist, playlist, genre or tag is a 404 problem in every format, never an empty feed", async () => {
    for (const ext of EXTS) {
      for (const path of ["/feeds/artist/999", "/feeds/playlist/999", "/feeds/genre/polka", "/feeds/tag/nosuchtag"]) {
        expectProblem(await feed(`${path}.${ext}`), 404, "not_found");
      }
    }
  });

  it("a bad extension is a 404 and a bad id or name a 400, with nothing sent upstream", async () => {
    for (const path of ["/feeds/artist/3", "/feeds/artist/3.xml", "/feeds/artist/3.atom.exe", "/feeds/tag/mellow.html"])
      expectProblem(await feed(path), 404, "not_found");
    for (const path of [
      "/feeds/artist/abc.atom",
      "/feeds/artist/0.rss",
      "/feeds/tag/%3Cb%3E.json",
      "/feeds/genre/-x.atom",
    ])
      expectProblem(await feed(path), 400, "invalid_request");
    expectProblem(await feed("/feeds/album/1.atom"), 404, "not_found");
    expect(upstreamPaths()).toEqual([]);
  });

  it("HEAD answers like GET without a body; 304 on If-None-Match and on If-Modified-Since", async () => {
    const get = await feed("/feeds/playlist/6.rss");
    const head = await feed("/feeds/playlist/6.rss", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
    expect(head.headers.get("ETag")).toBe(get.headers.get("ETag"));
    expect(head.headers.get("Last-Modified")).toBe(get.headers.get("Last-Modified"));
    const etag = get.headers.get("ETag")!;
    const lastModified = get.headers.get("Last-Modified")!;
    for (const headers of <Record<string, string>[]>[
      { "If-None-Match": etag },
      { "If-None-Match": `W/${etag}, "other"` },
      { "If-Modified-Since": lastModified },
    ]) {
      const res = await feed("/feeds/playlist/6.rss", { headers });
      expect(res.status, JSON.stringify(headers)).toBe(304);
      expect(res.text).toBe("");
      expect(res.headers.get("ETag")).toBe(etag);
    }
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await feed("/feeds/playlist/6.rss", { headers: { "If-Modified-Since": earlier } })).status).toBe(200);
    // If-None-Match decides when both are sent (RFC 9110 §13.2.2).
    const both = { "If-None-Match": '"other"', "If-Modified-Since": lastModified };
    expect((await feed("/feeds/playlist/6.rss", { headers: both })).status).toBe(200);
  });

  it("100 polls make at most one upstream request per list, and a purge of the artist clears the feed", async () => {
    const clock = useClock();
    for (let i = 0; i < 100; i++) {
      expect((await feed(`/feeds/artist/3.${EXTS[i % 3]}`)).status).toBe(200);
      clock.advance(((LIST.soft - 1) * S) / 100);
    }
    expect(upstreamPaths().sort()).toEqual(["/artists/3", "/artists/3/albums", "/artists/3/tracks"]);
    const before = upstreamPaths().length;
    const purged = await call("/hooks/purge", await signedPurge(SECRET, JSON.stringify({ resources: ["artist:3"] })), {
      PURGE_WEBHOOK_SECRET: SECRET,
    });
    expect(purged.status).toBe(200);
    clock.advance(10 * S); // past the isolate's purge sync
    expect((await feed("/feeds/artist/3.atom")).status).toBe(200);
    expect(upstreamPaths().slice(before).sort()).toEqual(["/artists/3", "/artists/3/albums", "/artists/3/tracks"]);
  });

  it("a cold feed spends the client's miss budget; past it, 429 while cached feeds still answer", async () => {
    useClock();
    const misses = clockedMissBudget();
    const client = { headers: { "CF-Connecting-IP": "203.0.113.77" } };
    expect((await feed("/feeds/tag/mellow.atom", client, misses)).status).toBe(200);
    for (let i = 1; i < DOCUMENTED_MISS_LIMITS.anon.limit; i++)
      expect((await call(`/v1/search?query=feeds${i}`, client, misses)).status).toBe(200);
    expectProblem(await feed("/feeds/tag/dark.atom", client, misses), 429, "client_miss_budget");
    expect((await feed("/feeds/tag/mellow.json", client, misses)).status).toBe(200);
  });
});

describe("feed safety", () => {
  const HOSTILE = `<script>alert(1)</script> ]]> &amp; "q" 'a' \u0001\u0008\u000B\u001F\u007F\u0085\uFFFE end`;
  const hostileTracks = {
    status: "success",
    pagination: {
      current_page: 1,
      per_page: 50,
      last_page: 1,
      total: 3,
      data: [
        {
          id: 61,
          name: HOSTILE,
          image: "javascript:alert(2)",
          created_at: "2025-05-05T05:05:05.000000Z",
          description: "</description><script>alert(3)</script>",
          key: "<i>F#</i>",
          artists: [{ id: 13, name: `${ARTISTS[12]?.name} ]]></name>` }],
        },
        { id: 62, name: "javascript:alert(4)", image: "data:text/html,<script>alert(5)</script>" },
        // A web URL, but not on IMAGE_HOSTS: no reader is sent there.
        { id: 63, name: "Elsewhere", image: "https://evil.example/cover.jpg", created_at: "2025-01-01" },
      ],
    },
  };

  it.each(EXTS)(
    "markup, ]]>, control characters and javascript: URLs come out escaped or dropped (%s)",
    async (ext) => {
      fake.addFault({ kind: "body", path: "/tags/dark/tracks", body: hostileTracks });
      const res = await feed(`/feeds/tag/dark.${ext}`);
      expectFeed(res, ext);
      // Nothing XML 1.0 forbids or discourages as a control, raw or as a JSON escape.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding these characters is the point
      expect(res.text).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/);
      expect(res.text).not.toMatch(/\\u00(0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|8[0-9a-fA-F]|9[0-9a-fA-F])/);
      expect(res.text.toLowerCase()).not.toContain("javascript:alert(2)");
      expect(res.text).not.toContain("data:text/html");
      expect(res.text).not.toContain("evil.example");
      expect(res.text).not.toContain("<![CDATA[");
      const cleaned = `<script>alert(1)</script> ]]> &amp; "q" 'a'  end`;
      const got = entries(ext, res.text);
      expect(got.map((e) => e.title)).toContain(cleaned);
      // The title that looks like a link is text: the entry still links to BeatPass's page.
      expect(got.find((e) => e.title === "javascript:alert(4)")?.link).toMatch(/^https:\/\/beatpass\.ca\/track\/62\//);
      if (ext !== "json") {
        expect(res.text).not.toMatch(/<script/i);
        expect(res.text).not.toContain("]]>");
        // Every element the parser saw is one the format defines: none came from the data.
        const names = new Set(all(parse(res.text, true)).flatMap((n) => ("name" in n ? [n.name] : [])));
        for (const name of names) expect(ELEMENTS[ext], name).toContain(name);
      } else {
        const items = JSON.parse(res.text).items as Record<string, unknown>[];
        for (const item of items)
          for (const k of ["image", "url", "id"]) expect(String(item[k])).toMatch(/^https:\/\//);
      }
    },
  );

  it("an entry without a date keeps the date it was first seen, across requests, refreshes and a restart", async () => {
    const clock = useClock();
    const undated = {
      status: "success",
      pagination: {
        current_page: 1,
        per_page: 50,
        total: 2,
        data: [
          { id: 5, name: "Undated One" },
          { id: 6, name: "Undated Two", created_at: "not a date" },
        ],
      },
    };
    fake.addFault({ kind: "body", path: "/tags/vinyl/tracks", body: undated });
    const firstSeen = clock.now();
    const dates = async () => {
      const got = entries("atom", (await feed("/feeds/tag/vinyl.atom")).text);
      return got.map((e) => [e.id, e.date]);
    };
    const first = await dates();
    // Dated by when the proxy fetched the list they first appeared in: this request's moment.
    expect(first).toEqual([
      ["https://beatpass.ca/track/5", firstSeen],
      ["https://beatpass.ca/track/6", firstSeen],
    ]);
    clock.advance(30 * S);
    expect(await dates()).toEqual(first);
    // Past the list's hard window: BeatPass is asked again, the list's fetch time moves on.
    clock.advance(LIST.hard * S + S);
    const before = upstreamPaths().length;
    expect(await dates()).toEqual(first);
    expect(upstreamPaths().length).toBeGreaterThan(before);
    // A restart: every isolate-lifetime memory cleared; KV (the record, the list) survives.
    resetIsolate(clock.now());
    clock.advance(LIST.hard * S + S);
    expect(await dates()).toEqual(first);
    // A new undated entry is dated by when it first appeared, the old ones keep theirs.
    clock.advance(LIST.hard * S + S);
    fake.reset();
    fake.addFault({
      kind: "body",
      path: "/tags/vinyl/tracks",
      body: {
        ...undated,
        pagination: { ...undated.pagination, data: [...undated.pagination.data, { id: 7, name: "New" }] },
      },
    });
    const later = await dates();
    const seven = later.find(([id]) => id === "https://beatpass.ca/track/7");
    expect(seven?.[1]).toBeGreaterThan(first[0]?.[1] as number);
    expect(later.filter(([id]) => id !== "https://beatpass.ca/track/7")).toEqual(first);
  });

  it("holds the 50 newest of a longer list, and dates entries by BeatPass's timestamps whatever their form", async () => {
    const day = (i: number) => `2025-03-${String(1 + (i % 28)).padStart(2, "0")}`;
    const forms = ["T10:00:00.000000Z", " 10:00:00", "T12:00:00+02:00", "T05:00:00-05:00", ""];
    const data = Array.from({ length: 60 }, (_, i) => ({
      id: 100 + i,
      name: `Beat ${i}`,
      created_at: `${day(i)}${forms[i % forms.length]}`,
    }));
    // Not dates: a day that does not exist, an hour past 23, words.
    data.push(
      { id: 200, name: "Bad day", created_at: "2025-02-31" },
      { id: 201, name: "Bad hour", created_at: "2025-03-01T24:00:00Z" },
    );
    fake.addFault({
      kind: "body",
      path: "/tags/bouncy/tracks",
      body: { status: "success", pagination: { current_page: 1, per_page: 50, total: 62, data } },
    });
    const clock = useClock();
    const got = entries("json", (await feed("/feeds/tag/bouncy.json")).text);
    expect(got).toHaveLength(50);
    const expected = (i: number) => {
      const d = day(i);
      return [
        Date.parse(`${d}T10:00:00Z`),
        Date.parse(`${d}T10:00:00Z`),
        Date.parse(`${d}T10:00:00Z`),
        Date.parse(`${d}T10:00:00Z`),
        Date.parse(`${d}T00:00:00Z`),
      ][i % forms.length];
    };
    for (const e of got) {
      const n = Number(e.id.split("/").pop());
      if (n >= 200) expect(e.date, e.title).toBe(clock.now());
      else expect(e.date, `${e.title}: ${data[n - 100]?.created_at}`).toBe(expected(n - 100));
    }
    // The undated two are the newest (seen now); then the 48 latest of BeatPass's 60.
    const dated = data.slice(0, 60).map((d, i) => ({ id: d.id, date: expected(i) as number }));
    const cut = dated.sort((a, b) => b.date - a.date)[47]!.date;
    for (const e of got.filter((x) => Number(x.id.split("/").pop()) < 200)) expect(e.date).toBeGreaterThanOrEqual(cut);
  });
});
