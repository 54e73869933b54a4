import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { XSS_NAME } from "../../fake/catalog.mjs";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_LIMITS, DOCUMENTED_MISS_LIMITS } from "../helpers/documented";
import { all, byTag, CARD_RESIZE_SCRIPT, cardUnsafeBits, parse, text, unsafeBits } from "../helpers/dom";
import { type Called, call, checked, expectProblem, ORIGIN } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { clockedRateLimit } from "../helpers/window";

type Doc = ReturnType<typeof parse>;
type El = ReturnType<typeof all>[number];

function expectEmbedHeaders(res: Called) {
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
  expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d+/);
  expect(res.headers.get("X-Frame-Options")).toBeNull();
}

/** The CSP hash source that allows exactly this inline content (computed here, not by src/). */
async function hashSource(content: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(content));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

/** A CSP header as directive -> sources, failing on a repeated directive (browsers use the first). */
function directives(csp: string | null): Record<string, string> {
  expect(csp).toBeTruthy();
  const out: Record<string, string> = {};
  for (const part of csp!.split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (!name) continue;
    expect(out, `directive ${name} appears once`).not.toHaveProperty(name);
    out[name] = sources.join(" ");
  }
  return out;
}

/**
 * The CSP an HTML card must carry: its own stylesheet and its one fixed resize script, each by
 * hash, and nothing else it does not need. Also holds the page to having exactly that one
 * script: attribute-less, its text the fixed script (so no upstream data is in it).
 */
async function expectedHtmlCsp(doc: Doc, imgSrc: string, frameAncestors: string) {
  const styles = byTag(doc, "style");
  expect(styles).toHaveLength(1);
  expect(byTag(doc, "script").map((s) => [s.attribs, text(s)])).toEqual([[{}, CARD_RESIZE_SCRIPT]]);
  return {
    "default-src": "'none'",
    "style-src": await hashSource(text(styles[0]!)),
    "script-src": await hashSource(CARD_RESIZE_SCRIPT),
    "img-src": `${imgSrc} data:`,
    "frame-ancestors": frameAncestors,
    "base-uri": "'none'",
    "form-action": "'none'",
  };
}

// vitest.config.ts sets IMAGE_HOSTS for the Worker under test to these three.
const TEST_IMG_SRC = "https://fake-beatpass.test https://beatpass.ca https://*.beatpass.ca";
// Opened directly, an SVG card is a document: no script, no fetch, inline style and the
// embedded font (data: URIs) only.
const SVG_CSP = {
  "default-src": "'none'",
  "style-src": "'unsafe-inline'",
  "img-src": "data:",
  "font-src": "data:",
};

/**
 * Card heights from the card design ("Cards that fit every frame"): a 1 px border and the
 * padding around a text column of fixed rows (title 22; artists or genres 20; fact chips 22
 * below a gap; waveform; list rows of 25 below a gap; the "N more" line 18 below a gap; an
 * error's two 20 px lines), which is never shorter than the artwork (96 standard, 64 compact).
 * Written out as sums here rather than taken from src/render/layout.ts, so a change to the
 * layout that forgets the frame heights (or the reverse) fails.
 */
const HEIGHT = {
  // 1 + 12 + (title 22 + artists 20 + facts 8+22 + waveform 8+36 = 116 > art 96) + 12 + 1
  trackStandard: 1 + 12 + (22 + 20 + (8 + 22) + (8 + 36)) + 12 + 1,
  // 1 + 8 + (title 22 + artists 20 + facts 6+22 + waveform 6+24 = 100 > art 64) + 8 + 1
  trackCompact: 1 + 8 + (22 + 20 + (6 + 22) + (6 + 24)) + 8 + 1,
  // playlist 6: title, "23 tracks", 8 rows of 25 below 8, "15 more" 18 below 6
  playlist6Standard: 1 + 12 + (22 + 20 + (8 + 8 * 25) + (6 + 18)) + 12 + 1,
  // compact: 3 rows below 6, "20 more" 18 below 4
  playlist6Compact: 1 + 8 + (22 + 20 + (6 + 3 * 25) + (4 + 18)) + 8 + 1,
  // compact without the list: title and "23 tracks" (42) are shorter than the 64 px artwork
  playlist6CompactNoTracks: 1 + 8 + 64 + 8 + 1,
} as const;

/** The meta tags of a card page, by property or name. */
function metaOf(doc: Doc): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of byTag(doc, "meta")) {
    const key = m.attribs.property ?? m.attribs.name;
    if (key) {
      expect(out, `meta ${key} appears once`).not.toHaveProperty(key);
      out[key] = m.attribs.content ?? "";
    }
  }
  return out;
}

const oembedLink = (doc: Doc) => byTag(doc, "link").find((l) => l.attribs.type === "application/json+oembed");

// ---- PNG ----

interface Bytes extends Called {
  bytes: Uint8Array;
}

let byteClients = 0;
/**
 * `call` for binary bodies: the same cross-cutting checks, with the body as bytes (call()
 * decodes it as text, which mangles a PNG). Each request is a client of its own, from a
 * range (198.18.0.0/15, for benchmarks) no other test uses.
 */
async function callBytes(path: string, init: RequestInit = {}, envOverride: Partial<Env> = {}): Promise<Bytes> {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, init);
  byteClients++;
  if (!req.headers.has("CF-Connecting-IP"))
    req.headers.set("CF-Connecting-IP", `198.18.${(byteClients >> 8) & 255}.${byteClients & 255}`);
  const res = await worker.fetch(req, { ...env, ...envOverride }, ctx);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { ...checked(res, new TextDecoder("latin1").decode(bytes)), bytes };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG's pixel size from its IHDR chunk (which the PNG spec puts first), checking the signature. */
function pngDimensions(bytes: Uint8Array): { width: number; height: number } {
  expect([...bytes.slice(0, 8)], "PNG signature").toEqual(PNG_SIGNATURE);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(new TextDecoder().decode(bytes.slice(12, 16)), "first chunk").toBe("IHDR");
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** The pixel size an SVG card declares on its root. */
function svgDimensions(markup: string): { width: number; height: number } {
  const root = byTag(parse(markup, true), "svg")[0]!;
  return { width: Number(root.attribs.width), height: Number(root.attribs.height) };
}

describe("HTML widgets", () => {
  it.each([
    ["/widget/track/1", "Midnight Run"],
    ["/widget/artist/3", "Lumen Loops"],
    ["/widget/album/1", "Night Drive Pack"],
    ["/widget/playlist/1", "Late Night Trap"],
  ])("%s renders a card with its exact CSP, one fixed script, nosniff, ETag and caching", async (path, name) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expectEmbedHeaders(res);
    const doc = parse(res.text);
    expect(cardUnsafeBits(doc)).toEqual([]);
    expect(text(byTag(doc, "h1")[0]!)).toContain(name);
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(doc, TEST_IMG_SRC, "*"),
    );
    const oembed = oembedLink(doc);
    expect(oembed?.attribs.href).toMatch(/^https:\/\/proxy\.test\/oembed\?url=https%3A%2F%2Fbeatpass\.ca%2F/);
    expect(oembed?.attribs.title).toBe(name);
  });

  it("the CSP's style hash follows the stylesheet of each theme and accent; the script hash never changes", async () => {
    // Each theme twice, with and without an accent: the hash is kept per theme and accent.
    for (const q of [
      "?theme=dark",
      "?theme=dark&accent=00aa55",
      "?theme=light&accent=ff0066",
      "?theme=light",
      "?size=compact",
    ]) {
      const res = await call(`/widget/track/1${q}`);
      const doc = parse(res.text);
      expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
        await expectedHtmlCsp(doc, TEST_IMG_SRC, "*"),
      );
    }
  });

  it("img-src lists exactly the configured IMAGE_HOSTS (http only for loopback)", async () => {
    const res = await call("/widget/track/1", {}, { IMAGE_HOSTS: "img.example, *.cdn.example,127.0.0.1:8790" });
    expect(res.status).toBe(200);
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(parse(res.text), "https://img.example https://*.cdn.example http://127.0.0.1:8790", "*"),
    );
  });

  it("draws the track's artwork, facts (price first) and waveform with two upstream requests, then none", async () => {
    const res = await call("/widget/track/1");
    const doc = parse(res.text);
    expect(byTag(doc, "img")[0]?.attribs.src).toBe("https://fake-beatpass.test/images/tracks/1.jpg");
    // The price leads, so a narrow frame that hides the last chips never hides it.
    expect(byTag(doc, "li").map((li) => [text(li), li.attribs.class])).toEqual([
      ["$24.99", "price"],
      ["107 BPM", undefined],
      ["F minor", undefined],
      ["3:29", undefined],
      ["Lease or exclusive", undefined],
    ]);
    expect(byTag(doc, "path")).toHaveLength(1);
    expect(upstreamPaths().sort()).toEqual(["/tracks/1", "/tracks/1/wave"]);

    // Cached: every theme, size and accent is rendered from the same data.
    for (const q of ["?theme=dark", "?size=compact", "?accent=ff0066&hide=price", ""]) {
      expect((await call(`/widget/track/1${q}`)).status).toBe(200);
    }
    expect(upstreamPaths()).toHaveLength(2);
  });

  it("shares data with the JSON API: a cached /v1/tracks/:id serves the card", async () => {
    await call("/v1/tracks/2");
    await call("/v1/tracks/2/wave");
    await call("/widget/track/2");
    expect(upstreamPaths()).toEqual(["/tracks/2", "/tracks/2/wave"]);
  });

  it("gives different options different ETags and answers If-None-Match with 304", async () => {
    const light = await call("/widget/track/1?theme=light");
    const dark = await call("/widget/track/1?theme=dark");
    expect(light.headers.get("ETag")).not.toBe(dark.headers.get("ETag"));
    const again = await call("/widget/track/1?theme=light", {
      headers: { "If-None-Match": light.headers.get("ETag")! },
    });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
  });

  it("shows the fake's hostile track's name as text and runs none of it", async () => {
    const res = await call("/widget/track/61");
    const doc = parse(res.text);
    expect(cardUnsafeBits(doc)).toEqual([]);
    expect(text(byTag(doc, "h1")[0]!)).toBe(XSS_NAME);
    expect(byTag(doc, "script")).toHaveLength(1);
    for (const img of byTag(doc, "img")) expect(img.attribs.src).toMatch(/^https:\/\/fake-beatpass\.test\/images\//);
  });

  it("draws a flat waveform row when the waveform read fails, so the card keeps its height", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/tracks/4/wave" });
    const res = await call("/widget/track/4");
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Problem-Code")).toBeNull();
    const doc = parse(res.text);
    const waves = byTag(doc, "svg");
    expect(waves.map((s) => s.attribs.class)).toEqual(["wave"]);
    // Every bar has the minimum height of 1: a flat line.
    const bars = byTag(doc, "path")[0]!.attribs.d!.match(/v[0-9.]+/g) ?? [];
    expect(bars.length).toBeGreaterThan(0);
    expect(new Set(bars)).toEqual(new Set(["v1.0"]));
    expect(metaOf(doc)["twitter:player:height"]).toBe(String(HEIGHT.trackStandard));
    // hide=waveform is the one way to drop the row.
    expect(byTag(parse((await call("/widget/track/4?hide=waveform")).text), "svg")).toEqual([]);
  });

  it("frame-ancestors follows FRAME_ANCESTORS", async () => {
    const sources = "https://blog.example 'self' https://*.shop.example:8443";
    const res = await call("/widget/track/1", {}, { FRAME_ANCESTORS: sources });
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(parse(res.text), TEST_IMG_SRC, sources),
    );
  });

  // A value that smuggles a directive (";"), a scheme-wide source or a path is refused as a
  // whole, and the card falls back to the narrower policy: framing by this Worker's own pages
  // only, no artwork. A card with a wider policy than configured is worse than either.
  it.each([
    "https://a.example; script-src *",
    "https://a.example;script-src https://evil.example",
    "*;script-src *",
    "'self';report-uri",
    "https://a.example/path",
    "javascript:x",
    "https:",
  ])("FRAME_ANCESTORS=%s is refused: cards may be framed by this Worker only", async (value) => {
    const res = await call("/widget/track/1", {}, { FRAME_ANCESTORS: value });
    expect(res.status).toBe(200);
    const csp = directives(res.headers.get("Content-Security-Policy"));
    expect(csp["frame-ancestors"]).toBe("'self'");
    expect(csp["script-src"]).toMatch(/^'sha256-[A-Za-z0-9+/=]+'$/);
    expect(Object.keys(csp)).not.toContain("report-uri");
  });

  it.each([
    "* https:",
    "img.example; script-src *",
    "img.example;script-src",
    "img.example https:",
    "https://img.example",
    "img.example/path",
    "*",
  ])("IMAGE_HOSTS=%s is refused: cards show no artwork and allow no image host", async (value) => {
    const res = await call("/widget/track/1", {}, { IMAGE_HOSTS: value });
    expect(res.status).toBe(200);
    expect(directives(res.headers.get("Content-Security-Policy"))["img-src"]).toBe("data:");
    expect(byTag(parse(res.text), "img")).toEqual([]);
  });
});

describe("link previews (Open Graph and Twitter player)", () => {
  it.each([
    ["track", 1, "Midnight Run", "music.song"],
    ["artist", 3, "Lumen Loops", "profile"],
    ["album", 1, "Night Drive Pack", "music.album"],
    ["playlist", 6, "Fresh Finds", "music.playlist"],
  ])(
    "a %s card page unfurls: og:* with a 1200 x 630 PNG, and a Twitter player as tall as its oEmbed frame",
    async (kind, id, name, ogType) => {
      const doc = parse((await call(`/widget/${kind}/${id}`)).text);
      const meta = metaOf(doc);
      const card = `https://proxy.test/widget/${kind}/${id}`;
      expect(meta).toMatchObject({
        "og:type": ogType,
        "og:title": name,
        "og:url": card,
        "og:image": `${card}.png`,
        "og:image:width": "1200",
        "og:image:height": "630",
        "twitter:card": "player",
        "twitter:player": card,
      });
      expect(meta["og:description"]).toMatch(/\S/);
      expect(meta["og:description"]).not.toMatch(/undefined|null|NaN/);

      // The player is exactly as tall as the frame oEmbed gives the same card.
      const oembed = oembedSchema.parse(
        (await call(`/oembed?url=${encodeURIComponent(`https://beatpass.ca/${kind}/${id}`)}`)).json(),
      );
      expect(Number(meta["twitter:player:height"])).toBe(oembed.height);
      expect(byTag(parse(oembed.html), "iframe")[0]!.attribs.src).toBe(meta["twitter:player"]);

      // og:image is a PNG of the size it declares.
      const png = await callBytes(new URL(meta["og:image"]!).pathname);
      expect(png.status).toBe(200);
      expect(png.headers.get("Content-Type")).toBe("image/png");
      expect(pngDimensions(png.bytes)).toEqual({ width: 1200, height: 630 });
    },
  );

  it("the preview URLs carry the card's options in canonical order", async () => {
    const doc = parse((await call("/widget/track/1?hide=price,bpm&accent=FACC15&size=compact&theme=dark")).text);
    const meta = metaOf(doc);
    const query = "?theme=dark&size=compact&accent=facc15&hide=bpm,price";
    expect(meta["og:url"]).toBe(`https://proxy.test/widget/track/1${query}`);
    expect(meta["twitter:player"]).toBe(`https://proxy.test/widget/track/1${query}`);
    expect(meta["og:image"]).toBe(`https://proxy.test/widget/track/1.png${query}`);
    expect(Number(meta["twitter:player:height"])).toBe(HEIGHT.trackCompact);
  });
});

describe("nested totals", () => {
  it("/v1/playlists/6 says 23 tracks in all while carrying the first 20", async () => {
    const data = (await call("/v1/playlists/6")).json().data;
    expect(data.tracks).toHaveLength(20);
    expect(data.tracks_total).toBe(23);
  });

  it.each([
    ["", 8, "15 more on BeatPass"],
    ["?size=compact", 3, "20 more on BeatPass"],
  ])("the playlist 6 card%s says 23 tracks, lists %i and links to the rest", async (q, rows, more) => {
    const doc = parse((await call(`/widget/playlist/6${q}`)).text);
    expect(text(byTag(doc, "p").find((p) => p.attribs.class === "sub")!)).toBe("23 tracks");
    expect(byTag(doc, "ol")[0]!.children.filter((n) => "name" in n)).toHaveLength(rows);
    const link = byTag(doc, "p").find((p) => p.attribs.class === "more");
    expect(text(link!)).toBe(more);
    expect(byTag(link!, "a")[0]!.attribs.href).toBe("https://beatpass.ca/playlist/6/fresh-finds");
  });

  it("the playlist 6 SVG says 23 tracks", async () => {
    expect(text(parse((await call("/widget/playlist/6.svg")).text, true))).toContain("23 tracks");
  });

  const album = (id: number, tracks: unknown) => ({
    status: "success",
    album: { id, name: "Paged", artists: [{ id: 5, name: "A" }], tracks },
  });
  const summary = (id: number) => ({ id, name: `Song ${id}`, duration: 120_000 });
  const paginator = (total: number, data: unknown[]) => ({
    current_page: 1,
    per_page: data.length,
    last_page: Math.ceil(total / data.length),
    from: 1,
    to: data.length,
    total,
    data,
  });

  it("an album whose tracks come as a paginator counts BeatPass's total, in JSON and in the card", async () => {
    fake.addFault({ kind: "body", path: "/albums/901", body: album(901, paginator(30, [1, 2].map(summary))) });
    const data = (await call("/v1/albums/901?with=tracks")).json().data;
    expect(data.tracks.map((t: { id: number }) => t.id)).toEqual([1, 2]);
    expect(data.tracks_total).toBe(30);

    const doc = parse((await call("/widget/album/901")).text);
    expect(text(byTag(doc, "p").find((p) => p.attribs.class === "sub")!)).toBe("A · 30 tracks");
    expect(text(byTag(doc, "p").find((p) => p.attribs.class === "more")!)).toBe("28 more on BeatPass");
  });

  it("an album's tracks as a plain array count themselves; a paginator total below its items is not believed", async () => {
    fake.addFault({ kind: "body", path: "/albums/902", body: album(902, [1, 2, 3].map(summary)) });
    fake.addFault({ kind: "body", path: "/albums/903", body: album(903, paginator(1, [1, 2].map(summary))) });
    expect((await call("/v1/albums/902?with=tracks")).json().data.tracks_total).toBe(3);
    expect((await call("/v1/albums/903?with=tracks")).json().data.tracks_total).toBe(2);
    const doc = parse((await call("/widget/album/903")).text);
    expect(byTag(doc, "p").find((p) => p.attribs.class === "more")).toBeUndefined();
  });

  it("an artist's albums paginator gives albums_total", async () => {
    const albums = paginator(42, [{ id: 1, name: "One" }]);
    fake.addFault({
      kind: "body",
      path: "/artists/904",
      body: { status: "success", artist: { id: 904, name: "X", albums } },
    });
    const data = (await call("/v1/artists/904?with=albums")).json().data;
    expect(data.albums).toHaveLength(1);
    expect(data.albums_total).toBe(42);
  });
});

describe("artwork URLs from BeatPass", () => {
  const withImage = (image: string, id = 7) =>
    fake.addFault({
      kind: "body",
      path: `/tracks/${id}`,
      body: { status: "success", track: { id, name: "Art test", image, artists: [{ id: 1, name: "A" }] } },
    });

  it.each([
    ["https://img.beatpass.ca/a.png", true],
    ["https://beatpass.ca/covers/a.png?v=2", true],
    ["https://notbeatpass.ca/a.png", false],
    ["https://beatpass.ca.evil.example/a.png", false],
    ["http://img.beatpass.ca/a.png", false],
    ["http://beatpass.ca/a.png", false],
    ["https://user:pass@img.beatpass.ca/a.png", false],
    ["https://user@beatpass.ca/a.png", false],
    ["https://img.beatpass.ca:8443/a.png", false],
    ["javascript:alert(1)", false],
    ["data:image/svg+xml,<svg onload=alert(1)>", false],
  ])("%s shown: %s", async (image, shown) => {
    withImage(image);
    const html = parse((await call("/widget/track/7?hide=waveform")).text);
    expect(byTag(html, "img").map((i) => i.attribs.src)).toEqual(shown ? [image] : []);
    if (!shown) {
      // The SVG and PNG cards do not even try to fetch it (a fetch to any host but the fake fails the test).
      const svg = parse((await call("/widget/track/7.svg?hide=waveform")).text, true);
      expect(byTag(svg, "image")).toEqual([]);
      expect((await callBytes("/widget/track/7.png?hide=waveform")).status).toBe(200);
      expect(fake.requests.filter((r) => !r.path.startsWith("/api/"))).toEqual([]);
    }
  });

  it("plain http artwork is shown only from a loopback host:port on the list", async () => {
    const env = { IMAGE_HOSTS: "127.0.0.1:8790,img.example:8080" };
    const cases = [
      ["http://127.0.0.1:8790/images/1.png", true],
      ["http://127.0.0.1:9999/images/1.png", false],
      ["http://img.example:8080/a.png", false],
      ["https://img.example:8080/a.png", true],
    ] as const;
    for (const [i, [image, shown]] of cases.entries()) {
      withImage(image, 20 + i);
      const doc = parse((await call(`/widget/track/${20 + i}?hide=waveform`, {}, env)).text);
      expect(
        byTag(doc, "img").map((img) => img.attribs.src),
        image,
      ).toEqual(shown ? [image] : []);
    }
  });
});

/** Every url(...) in an SVG card's stylesheet. */
const cssUrls = (doc: Doc) => [...text(byTag(doc, "style")[0]!).matchAll(/url\(([^)]*)\)/g)].map((m) => m[1]!);

describe("SVG widgets", () => {
  it.each(["/widget/track/1.svg", "/widget/artist/3.svg", "/widget/album/1.svg", "/widget/playlist/6.svg"])(
    "%s is a self-contained image with inlined artwork and font, and its exact CSP",
    async (path) => {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("image/svg+xml; charset=utf-8");
      expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
      expectEmbedHeaders(res);
      expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(SVG_CSP);
      const doc = parse(res.text, true);
      expect(unsafeBits(doc)).toEqual([]);
      const hrefs = byTag(doc, "image").map((i) => i.attribs.href ?? "");
      expect(hrefs).toHaveLength(1);
      expect(hrefs[0]).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/);
      // The font travels inside (regular and semibold), as data: URIs: no fetch when shown.
      const urls = cssUrls(doc);
      expect(urls).toHaveLength(2);
      for (const u of urls) expect(u).toMatch(/^data:font\/woff2;base64,[A-Za-z0-9+/=]+$/);
      expect(text(byTag(doc, "style")[0]!)).toMatch(/@font-face\{font-family:Inter;font-weight:400;/);
      // Artwork is fetched without the BeatPass token.
      const imageRequest = fake.requests.find((r) => r.path.startsWith("/images/"));
      expect(imageRequest?.headers.authorization).toBeUndefined();
    },
  );

  it("a track with a photograph for its cover (the fake's JPEG) shows it whole, inlined as a JPEG", async () => {
    const res = await call("/widget/track/21.svg");
    expect(res.status).toBe(200);
    const hrefs = byTag(parse(res.text, true), "image").map((i) => i.attribs.href ?? "");
    expect(hrefs).toHaveLength(1);
    const served = await fake.fetch(new Request("https://fake-beatpass.test/images/tracks/21-photo.jpg"));
    expect(served.headers.get("Content-Type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await served.arrayBuffer());
    // The bytes BeatPass sent, not a truncated or re-encoded copy.
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    expect(hrefs[0]).toBe(`data:image/jpeg;base64,${btoa(binary)}`);
  });

  it("a card and its artwork are cached: the second view costs no upstream request", async () => {
    await call("/widget/track/1.svg");
    const before = fake.requests.length;
    await call("/widget/track/1.svg?theme=dark");
    expect(fake.requests.length).toBe(before);
  });

  it("draws the verified mark as a badge (a disc and a check), not a character", async () => {
    const doc = parse((await call("/widget/artist/3.svg")).text, true);
    expect(text(doc)).not.toContain("✔");
    const badges = byTag(doc, "g").filter((g) => byTag(g, "circle").length === 1 && byTag(g, "path").length === 1);
    expect(badges).toHaveLength(1);
    expect(byTag(doc, "svg")[0]!.attribs["aria-label"]).toContain("verified");
    // hide=badge removes it.
    const hidden = parse((await call("/widget/artist/3.svg?hide=badge")).text, true);
    expect(byTag(hidden, "circle")).toEqual([]);
  });

  it("writes an album's release date as a reader would (May 1, 2025)", async () => {
    // The fake's album 1 was released 2025-05-01.
    const texts = byTag(parse((await call("/widget/album/1.svg")).text, true), "text").map((t) => text(t));
    expect(texts.some((t) => t.includes("May 1, 2025"))).toBe(true);
    expect(texts.join(" ")).not.toContain("2025-05-01");
  });

  it("leaves artwork out when the image fails", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/images/" });
    const res = await call("/widget/track/5.svg");
    expect(res.status).toBe(200);
    expect(byTag(parse(res.text, true), "image")).toEqual([]);
  });

  it("does not follow an artwork redirect, even to an allowed host", async () => {
    fake.addFault({
      kind: "status",
      status: 302,
      path: "/images/tracks/5",
      body: "",
      headers: { Location: "https://fake-beatpass.test/images/tracks/6.jpg" },
    });
    const res = await call("/widget/track/5.svg");
    expect(res.status).toBe(200);
    expect(byTag(parse(res.text, true), "image")).toEqual([]);
    expect(fake.requests.filter((r) => r.path.startsWith("/images/")).map((r) => r.path)).toEqual([
      "/images/tracks/5.jpg",
    ]);
  });

  it("does not follow an artwork redirect to another host", async () => {
    // The fake redirects to https://elsewhere.example; following it would fail the test.
    fake.addFault({ kind: "redirect", path: "/images/" });
    const res = await call("/widget/album/2.svg");
    expect(res.status).toBe(200);
    expect(byTag(parse(res.text, true), "image")).toEqual([]);
  });

  it.each([
    ["image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`],
    ["text/html", "<script>alert(1)</script>"],
    ["application/json", '{"not":"an image"}'],
    ["application/octet-stream", "\u0089PNG"],
  ])("never inlines %s served as artwork", async (type, body) => {
    fake.addFault({ kind: "status", status: 200, path: "/images/", body, headers: { "Content-Type": type } });
    const res = await call("/widget/artist/3.svg");
    expect(res.status).toBe(200);
    const doc = parse(res.text, true);
    expect(byTag(doc, "image")).toEqual([]);
    // The only data: URIs left are the embedded font's.
    expect(res.text).not.toMatch(/data:(?!font\/woff2;base64,)/);
    expect(fake.requests.some((r) => r.path.startsWith("/images/"))).toBe(true);
  });
});

describe("PNG widgets", () => {
  it.each(["track/1", "artist/3", "album/1", "playlist/6"])(
    "/widget/%s.png is a 1200 x 630 link-preview image; layout=card is the SVG card's size",
    async (item) => {
      const og = await callBytes(`/widget/${item}.png`);
      expect(og.status).toBe(200);
      expect(og.headers.get("Content-Type")).toBe("image/png");
      expect(og.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
      expectEmbedHeaders(og);
      expect(pngDimensions(og.bytes)).toEqual({ width: 1200, height: 630 });

      for (const size of ["standard", "compact"]) {
        const png = await callBytes(`/widget/${item}.png?layout=card&size=${size}`);
        expect(png.headers.get("Content-Type")).toBe("image/png");
        const svg = await call(`/widget/${item}.svg?size=${size}`);
        expect(pngDimensions(png.bytes)).toEqual(svgDimensions(svg.text));
      }
    },
  );

  it("answers If-None-Match with 304, and layouts have different ETags", async () => {
    const og = await callBytes("/widget/track/1.png");
    const card = await callBytes("/widget/track/1.png?layout=card");
    expect(og.headers.get("ETag")).not.toBe(card.headers.get("ETag"));
    const again = await callBytes("/widget/track/1.png", { headers: { "If-None-Match": og.headers.get("ETag")! } });
    expect(again.status).toBe(304);
    expect(again.bytes).toHaveLength(0);
  });

  it("a hostile track still rasterises (its SVG stays well-formed)", async () => {
    const png = await callBytes("/widget/track/61.png");
    expect(png.status).toBe(200);
    expect(png.headers.get("X-Problem-Code")).toBeNull();
    expect(pngDimensions(png.bytes)).toEqual({ width: 1200, height: 630 });
  });

  it("width= scales a link preview from 200 to 1200 px; any other width is a 400 problem, before any upstream request", async () => {
    for (const width of ["199", "1201", "9999"]) {
      const problem = expectProblem(await call(`/widget/track/1.png?width=${width}`), 400, "invalid_request");
      expect(problem.errors?.map((e) => e.name)).toContain("width");
    }
    expect(upstreamPaths()).toEqual([]);
    for (const width of [200, 1200]) {
      const png = await callBytes(`/widget/track/1.png?width=${width}`);
      expect(pngDimensions(png.bytes)).toEqual({ width, height: Math.round((width * 630) / 1200) });
    }
  });

  it("a rasteriser answering anything but image/png is a 503 problem, never served as the PNG", async () => {
    const RASTER = {
      fetch: async () =>
        new Response("<html>rasteriser error page</html>", { headers: { "Content-Type": "text/html" } }),
    } as unknown as Fetcher;
    // Options no other test asks for: this card's PNG is not already rendered and kept.
    let calls = 0;
    const counting = {
      fetch: (...a: Parameters<Fetcher["fetch"]>) => {
        calls++;
        return RASTER.fetch(...a);
      },
    } as Fetcher;
    const res = await call("/widget/track/2.png?width=321&theme=dark", {}, { RASTER: counting });
    expectProblem(res, 503, "raster_unavailable");
    expect(res.text).not.toContain("rasteriser error page");
    // Not a second try at drawing an error card through the same failing rasteriser.
    expect(calls).toBe(1);
  });

  it("layout other than og or card is a 400 problem, before any upstream request", async () => {
    const problem = expectProblem(await call("/widget/track/1.png?layout=poster"), 400, "invalid_request");
    expect(problem.errors?.map((e) => e.name)).toContain("layout");
    expect(upstreamPaths()).toEqual([]);
  });
});

// ---- every upstream string, hostile, in every card ----

/**
 * Each upstream string field gets a label such as ⟦tn⟧. A benign card is rendered with the
 * bare labels, a hostile one with each label followed by ATTACK; the hostile card must have
 * exactly the benign card's elements and attributes, and show the attack as text wherever
 * the benign card shows the label (control characters removed: XML forbids them).
 */
const ATTACK = `"><img src=x onerror=alert(1)>'&amp;\u0001</title></style><script>alert(3)</script>`;
const SHOWN = `"><img src=x onerror=alert(1)>'&amp;</title></style><script>alert(3)</script>`;
const LABEL = /⟦[a-z0-9]+⟧/g;
const benign = (label: string) => label;
const hostile = (label: string) => `${label}${ATTACK}`;
const expand = (s: string) => s.replace(LABEL, (l) => `${l}${SHOWN}`);
// XML 1.0 forbids these; one of them makes a whole SVG card fail to parse.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding these characters is the point
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

type V = (label: string) => string;
type Kind = "track" | "artist" | "album" | "playlist";

const summaries = (v: V) => [
  { id: 1, name: v("⟦t1⟧"), duration_text: v("⟦d1⟧") },
  { id: 2, name: v("⟦t2⟧"), duration: 61_000 },
];
const artistRefs = (v: V) => [
  { id: 5, name: v("⟦a1⟧") },
  { id: 6, name: v("⟦a2⟧") },
];

const BODIES: Record<Kind, (id: number, v: V) => unknown> = {
  track: (id, v) => ({
    status: "success",
    track: {
      id,
      name: v("⟦tn⟧"),
      image: "javascript:alert(1)",
      bpm: 140,
      key: v("⟦k⟧"),
      scale: v("⟦s⟧"),
      duration_text: v("⟦d⟧"),
      licensing_type: v("⟦l⟧"),
      price: 29.99,
      currency: v("⟦c⟧"),
      artists: artistRefs(v),
    },
  }),
  artist: (id, v) => ({
    status: "success",
    artist: {
      id,
      name: v("⟦an⟧"),
      verified: true,
      image_small: "javascript:alert(1)",
      genres: [
        { id: 1, name: "not shown", display_name: v("⟦g1⟧") },
        { id: 2, name: v("⟦g2⟧"), display_name: null },
      ],
      top_tracks: summaries(v),
    },
  }),
  album: (id, v) => ({
    status: "success",
    album: {
      id,
      name: v("⟦al⟧"),
      image: "javascript:alert(1)",
      // Read as a date (the card shows "Nov 20, 2025"); whatever follows the date is dropped.
      release_date: `2025-11-20${v("⟦rd⟧")}`,
      artists: artistRefs(v),
      tracks: summaries(v),
    },
  }),
  playlist: (id, v) => ({
    status: "success",
    playlist: { id, name: v("⟦pl⟧"), image: "javascript:alert(1)", tracks: summaries(v) },
  }),
};

/** What each card shows (so the comparison below is not vacuous). */
const SHOWS: Record<string, string[]> = {
  "track html": ["⟦tn⟧", "⟦a1⟧", "⟦a2⟧", "⟦k⟧", "⟦s⟧", "⟦d⟧", "⟦l⟧"],
  "track svg": ["⟦tn⟧", "⟦a1⟧", "⟦a2⟧", "⟦k⟧", "⟦s⟧", "⟦d⟧", "⟦l⟧"],
  "artist html": ["⟦an⟧", "⟦g1⟧", "⟦g2⟧", "⟦t1⟧", "⟦t2⟧", "⟦d1⟧"],
  "artist svg": ["⟦an⟧", "⟦g1⟧", "⟦g2⟧", "⟦t1⟧", "⟦t2⟧"],
  "album html": ["⟦al⟧", "⟦a1⟧", "⟦a2⟧", "⟦t1⟧", "⟦t2⟧", "⟦d1⟧"],
  "album svg": ["⟦al⟧", "⟦a1⟧", "⟦a2⟧", "Nov 20, 2025"],
  "playlist html": ["⟦pl⟧", "⟦t1⟧", "⟦t2⟧", "⟦d1⟧"],
  "playlist svg": ["⟦pl⟧", "2 tracks"],
};

const NAME_LABEL: Record<Kind, string> = { track: "⟦tn⟧", artist: "⟦an⟧", album: "⟦al⟧", playlist: "⟦pl⟧" };

const UPSTREAM_PATH: Record<Kind, string> = {
  track: "/tracks/",
  artist: "/artists/",
  album: "/albums/",
  playlist: "/playlists/",
};

function serve(kind: Kind, id: number, v: V) {
  // Faults match by substring, first added first: the waveform gets peaks, the entity the body.
  fake.addFault({ kind: "body", path: "/wave", body: { peaks: [0.2, 0.9, 0.5, 0.7] } });
  fake.addFault({ kind: "body", path: `${UPSTREAM_PATH[kind]}${id}`, body: BODIES[kind](id, v) });
}

const shape = (doc: Doc) => all(doc).map((el) => `${el.name}[${Object.keys(el.attribs).sort().join(" ")}]`);
const ownText = (el: El) =>
  el.children
    .map((c) => {
      const node = c as { type: string; data?: string };
      return node.type === "text" ? (node.data ?? "") : "";
    })
    .join("");

// SVG places the verified badge right after the title as measured, so its x follows the
// title's width; nothing else about the badge may differ.
const BADGE_POSITION = /^translate\([0-9.]+ [0-9.]+\)$/;

/**
 * The hostile card is the benign card with every label followed by the attack, shown as text
 * (and its own id, 802 for 801, in the URLs it builds).
 */
function expectSameCard(benignMarkup: string, hostileMarkup: string, xml: boolean) {
  const expect802 = (s: string) => expand(s).replace(/\/801(?=[/.?"]|$)/g, "/802");
  const b = parse(benignMarkup, xml);
  const h = parse(hostileMarkup, xml);
  expect(xml ? unsafeBits(h) : cardUnsafeBits(h)).toEqual([]);
  expect(shape(h), "elements and attributes").toEqual(shape(b));
  expect(hostileMarkup).not.toMatch(XML_FORBIDDEN);
  const [be, he] = [all(b), all(h)];
  for (const [i, el] of he.entries()) {
    const ref = be[i]!;
    for (const [name, value] of Object.entries(el.attribs)) {
      // Links carry ids and slugs (checked below), everything else must match.
      if (name === "href") continue;
      if (xml && el.name === "g" && name === "transform" && BADGE_POSITION.test(value)) {
        expect(ref.attribs[name]).toMatch(BADGE_POSITION);
        continue;
      }
      expect(value, `<${el.name} ${name}>`).toBe(expect802(ref.attribs[name]!));
    }
    const got = ownText(el);
    const want = expect802(ownText(ref));
    // SVG text cannot wrap, so a line too long to fit ends in "…": then what is shown is the start.
    if (xml && got !== want && got.endsWith("…")) expect(want.startsWith(got.slice(0, -1)), got).toBe(true);
    else expect(got, `text of <${el.name}>`).toBe(want);
  }
  for (const el of all(h)) {
    const href = el.attribs.href;
    if (href !== undefined)
      expect(href).toMatch(
        /^(https:\/\/beatpass\.ca\/[a-z]+\/\d+\/[a-z0-9-]+|https:\/\/proxy\.test\/oembed\?url=https%3A%2F%2Fbeatpass\.ca%2F[^"<>]*|https:\/\/proxy\.test\/feeds\/(artist|playlist)\/\d+\.(atom|json))$/,
      );
  }
  return { b, h };
}

describe("hostile strings in every upstream field", () => {
  it.each([
    ["track", "html"],
    ["track", "svg"],
    ["artist", "html"],
    ["artist", "svg"],
    ["album", "html"],
    ["album", "svg"],
    ["playlist", "html"],
    ["playlist", "svg"],
  ] as const)("%s %s card shows them as text and injects nothing", async (kind, format) => {
    serve(kind, 801, benign);
    serve(kind, 802, hostile);
    const suffix = format === "svg" ? ".svg" : "";
    const quiet = await call(`/widget/${kind}/801${suffix}`);
    const loud = await call(`/widget/${kind}/802${suffix}`);
    expect([quiet.status, loud.status]).toEqual([200, 200]);
    expect(loud.headers.get("X-Problem-Code")).toBeNull();
    for (const label of SHOWS[`${kind} ${format}`]!) expect(quiet.text).toContain(label);
    const { h } = expectSameCard(quiet.text, loud.text, format === "svg");

    if (format === "html") {
      // The title, the document title, the preview tags and the oEmbed discovery link carry the full name.
      const name = expand(NAME_LABEL[kind]);
      expect(text(byTag(h, "h1")[0]!)).toContain(name);
      expect(text(byTag(h, "title")[0]!)).toBe(`${name} · BeatPass`);
      expect(metaOf(h)["og:title"]).toBe(name);
      expect(oembedLink(h)?.attribs.title).toBe(name);
      expect(byTag(h, "img")).toEqual([]); // javascript: artwork
      // The one script is still the fixed one: no upstream text reached it.
      expect(byTag(h, "script").map((s) => text(s))).toEqual([CARD_RESIZE_SCRIPT]);
      expect(directives(loud.headers.get("Content-Security-Policy"))).toEqual(
        await expectedHtmlCsp(h, TEST_IMG_SRC, "*"),
      );
    } else {
      // The accessible name is never truncated: title and subtitle in full.
      const label = byTag(h, "svg")[0]!.attribs["aria-label"];
      expect(text(byTag(h, "title")[0]!)).toBe(label);
      expect(label).toContain(SHOWN);
      expect(directives(loud.headers.get("Content-Security-Policy"))).toEqual(SVG_CSP);
      // The rasteriser takes the same markup.
      const png = await callBytes(`/widget/${kind}/802.png`);
      expect(png.headers.get("Content-Type")).toBe("image/png");
      expect(png.headers.get("X-Problem-Code")).toBeNull();
    }
  });

  it("a currency that is not a currency code never reaches the price", async () => {
    serve("track", 802, hostile);
    const html = parse((await call("/widget/track/802")).text);
    const price = byTag(html, "li").filter((li) => li.attribs.class === "price");
    expect(price.map((li) => text(li))).toEqual(["$29.99"]);
    const svg = (await call("/widget/track/802.svg")).text;
    expect(svg).not.toContain("⟦c⟧");
    expect(text(parse(svg, true))).toContain("$29.99");
  });

  it.each([
    ["track", "⟦tn⟧", "⟦a1⟧, ⟦a2⟧"],
    ["artist", "⟦an⟧", "⟦an⟧"],
    ["album", "⟦al⟧", "⟦a1⟧, ⟦a2⟧"],
    ["playlist", "⟦pl⟧", undefined],
  ] as const)("oEmbed for a hostile %s: title as data, the iframe's title escaped", async (kind, name, author) => {
    serve(kind, 802, hostile);
    const res = await call(`/oembed?url=${encodeURIComponent(`https://beatpass.ca/${kind}/802`)}`);
    expect(res.status).toBe(200);
    const body = oembedSchema.parse(res.json());
    expect(body.title).toBe(hostile(name));
    expect(body.author_name).toBe(author?.replace(LABEL, (l) => hostile(l)));
    expect(body.html).not.toMatch(XML_FORBIDDEN);
    const doc = parse(body.html);
    expectOembedMarkup(doc, `https://proxy.test/widget/${kind}/802`);
    expect(byTag(doc, "iframe")[0]!.attribs.title).toBe(`${expand(name)} on BeatPass`);
  });
});

/**
 * oEmbed's html: the iframe, marked for embed.js, then the embed.js script tag, and nothing
 * else: no handler, no inline script, no other element.
 */
function expectOembedMarkup(doc: Doc, src: string) {
  expect(unsafeBits(doc).sort()).toEqual(["<iframe>", "<script>"]);
  expect(shape(doc)).toEqual(["iframe[data-beatpass-embed height loading src style title width]", "script[async src]"]);
  expect(byTag(doc, "iframe")[0]!.attribs.src).toBe(src);
  const script = byTag(doc, "script")[0]!;
  expect(script.attribs.src).toBe("https://proxy.test/embed.js");
  expect(text(script)).toBe("");
}

describe("widget failures", () => {
  it.each([
    ["/widget/track/999", "html"],
    ["/widget/track/999.svg", "svg"],
  ] as const)(
    "%s draws an error card in the viewer's words, status 200, the code only in X-Problem-Code",
    async (path, format) => {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Problem-Code")).toBe("not_found");
      expect(res.headers.get("Cache-Control")).toBe("public, max-age=60");
      const svg = format === "svg";
      const doc = parse(res.text, svg);
      expect(svg ? unsafeBits(doc) : cardUnsafeBits(doc)).toEqual([]);
      const shown = text(doc).replace(/\s+/g, " ");
      expect(shown).toContain("Track unavailable");
      expect(shown).toContain("This track isn't available on BeatPass.");
      // Problem codes are for whoever debugs the embed, not for the viewer.
      expect(res.text).not.toContain("not_found");
      expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
        svg ? SVG_CSP : await expectedHtmlCsp(doc, TEST_IMG_SRC, "*"),
      );
      if (!svg) {
        const links = byTag(doc, "a");
        expect(links.map((a) => text(a))).toEqual(["Open BeatPass"]);
        expect(links[0]!.attribs.href).toMatch(/^https:\/\/beatpass\.ca\/track\/999\//);
        expect(links[0]!.attribs.rel).toBe("noopener noreferrer");
      }
    },
  );

  it("an SVG error card carries the font its message was wrapped for", async () => {
    // errorSvg wraps the message to Inter's advance widths: drawn in a fallback font it could overflow.
    const urls = cssUrls(parse((await call("/widget/track/999.svg")).text, true));
    expect(urls).toHaveLength(2);
    for (const u of urls) expect(u).toMatch(/^data:font\/woff2;base64,[A-Za-z0-9+/=]+$/);
  });

  it("/widget/track/999.png draws the error card as a PNG, status 200", async () => {
    const res = await callBytes("/widget/track/999.png");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("X-Problem-Code")).toBe("not_found");
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=60");
    expect(pngDimensions(res.bytes)).toEqual({ width: 1200, height: 630 });
  });

  it.each([
    [410, "gone", "Album removed", "This album was removed from BeatPass.", "public, max-age=60"],
    [403, "forbidden", "Album is private", "This album is private on BeatPass.", "public, max-age=60"],
    [500, "upstream_error", "BeatPass is unavailable", "BeatPass can't be reached right now.", "public, max-age=10"],
  ])(
    "BeatPass answering %i is an error card (%s) in the viewer's words, cached as %s",
    async (status, code, heading, message, cacheControl) => {
      fake.addFault({ kind: "status", status, body: { message: "SQLSTATE secret" }, path: "/albums/2" });
      for (const path of ["/widget/album/2", "/widget/album/2.svg"]) {
        const res = await call(path);
        expect(res.status).toBe(200);
        expect(res.headers.get("X-Problem-Code")).toBe(code);
        expect(res.headers.get("Cache-Control")).toBe(cacheControl);
        const shown = text(parse(res.text, path.endsWith(".svg"))).replace(/\s+/g, " ");
        expect(shown).toContain(heading);
        expect(shown).toContain(message);
        expect(res.text).not.toContain(code);
        expect(res.text).not.toContain("SQLSTATE");
      }
      const png = await callBytes("/widget/album/2.png");
      expect([png.status, png.headers.get("Content-Type"), png.headers.get("X-Problem-Code")]).toEqual([
        200,
        "image/png",
        code,
      ]);
    },
  );

  it.each([
    ["/widget/track/abc", "id"],
    ["/widget/track/1?theme=neon", "theme"],
    ["/widget/track/1?accent=red", "accent"],
    ["/widget/track/1?accent=fff;}body{", "accent"],
    ["/widget/track/1?hide=price,cookies", "hide"],
    ["/widget/track/1?size=huge", "size"],
    ["/widget/track/1.svg?size=huge", "size"],
    ["/widget/track/1.png?theme=neon", "theme"],
  ])("bad input %s is a 400 problem naming %s, with no upstream request", async (path, name) => {
    const problem = expectProblem(await call(path), 400, "invalid_request");
    expect(problem.errors?.map((e) => e.name)).toContain(name);
    expect(upstreamPaths()).toEqual([]);
  });

  it("an unknown widget kind is a 404 problem", async () => {
    expectProblem(await call("/widget/user/1"), 404, "not_found");
  });
});

// ---- per-client limits: cards are charged only for misses ----

/**
 * The anonymous tier's limits as bindings on the test's clock (helpers/window.ts), which
 * useClock() holds still: however long the bursts take, they lie in one window. These tests
 * use addresses (203.0.113.200 and up, TEST-NET-3) no other test uses.
 */
const MISS_LIMIT = DOCUMENTED_MISS_LIMITS.anon.limit;
const anonLimits = (): Partial<Env> => ({
  RATE_LIMIT_ANON: clockedRateLimit(DOCUMENTED_LIMITS.anon),
  MISS_LIMIT_ANON: clockedRateLimit(DOCUMENTED_MISS_LIMITS.anon),
});

describe("cards and per-client limits", () => {
  it("a cached card asked for 200 times from one address is the real card every time", async () => {
    useClock();
    const limits = anonLimits();
    expect((await call("/widget/track/1", {}, limits)).status).toBe(200);
    const headers = { "CF-Connecting-IP": "203.0.113.201" };
    // More than the address's request limit (README: 120 a minute): cards are not counted per request.
    const answers: Called[] = [];
    for (let i = 0; i < 200; i++) answers.push(await call("/widget/track/1", { headers }, limits));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Problem-Code")).toBeNull();
      expect(text(byTag(parse(res.text), "h1")[0]!)).toBe("Midnight Run");
    }
    // All from the cache: the first view's two reads were the only ones.
    expect(upstreamPaths().sort()).toEqual(["/tracks/1", "/tracks/1/wave"]);
  }, 120_000);

  it("past its miss budget, a client's cold cards are error cards in their own format, status 200, never stored", async () => {
    useClock();
    const limits = anonLimits();
    expect((await call("/widget/track/1", {}, limits)).status).toBe(200);
    const ip = "203.0.113.211";
    const headers = { "CF-Connecting-IP": ip };
    // Ids the fake lacks: each costs one miss (no waveform is asked for a missing track).
    const cold = (i: number) => 700_000 + i;
    const within: Called[] = [];
    for (let i = 0; i < MISS_LIMIT; i++) within.push(await call(`/widget/track/${cold(i)}`, { headers }, limits));
    const over = {
      html: await call(`/widget/track/${cold(MISS_LIMIT)}`, { headers }, limits),
      svg: await call(`/widget/track/${cold(MISS_LIMIT + 1)}.svg`, { headers }, limits),
      png: await callBytes(`/widget/track/${cold(MISS_LIMIT + 2)}.png`, { headers }, limits),
    };
    // The first MISS_LIMIT reached BeatPass (which has no such tracks).
    expect(within.map((r) => [r.status, r.headers.get("X-Problem-Code")])).toEqual(
      Array(MISS_LIMIT).fill([200, "not_found"]),
    );
    for (const res of Object.values(over)) {
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Problem-Code")).toBe("client_miss_budget");
      // About this viewer's network, not the card: no shared cache may keep it.
      expect(res.headers.get("Cache-Control")).toBe("private, no-store");
    }
    expect(over.html.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    const html = parse(over.html.text);
    expect(cardUnsafeBits(html)).toEqual([]);
    expect(text(byTag(html, "h1")[0]!)).toBe("Card paused");
    expect(over.html.text).not.toContain("client_miss_budget");
    expect(directives(over.html.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(html, TEST_IMG_SRC, "*"),
    );
    expect(over.svg.headers.get("Content-Type")).toBe("image/svg+xml; charset=utf-8");
    const svg = parse(over.svg.text, true);
    expect(svg.children.find((n) => "name" in n && n.name === "svg")).toBeDefined();
    expect(unsafeBits(svg)).toEqual([]);
    expect(text(svg)).toContain("Card paused");
    expect(over.png.headers.get("Content-Type")).toBe("image/png");
    expect(pngDimensions(over.png.bytes)).toEqual({ width: 1200, height: 630 });

    // Only the cold cards cost: 1 warm-up track and waveform, then MISS_LIMIT missing tracks.
    expect(upstreamPaths().filter((p) => p.startsWith("/tracks/7"))).toHaveLength(MISS_LIMIT);
    // Cached cards are still this client's; another client's cold card is unaffected.
    const cached = await call("/widget/track/1", { headers }, limits);
    expect([cached.status, cached.headers.get("X-Problem-Code")]).toEqual([200, null]);
    const other = await call("/widget/track/3", { headers: { "CF-Connecting-IP": "203.0.113.230" } }, limits);
    expect([other.status, other.headers.get("X-Problem-Code")]).toEqual([200, null]);
  }, 120_000);
});

const oembedSchema = z
  .object({
    version: z.literal("1.0"),
    type: z.literal("rich"),
    html: z.string().min(1),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    title: z.string().optional(),
    author_name: z.string().optional(),
    author_url: z.string().url().optional(),
    provider_name: z.string().optional(),
    provider_url: z.string().url().optional(),
    cache_age: z.number().int().nonnegative().optional(),
    thumbnail_url: z.string().url().optional(),
    thumbnail_width: z.number().int().positive().optional(),
    thumbnail_height: z.number().int().positive().optional(),
  })
  .strict()
  // oEmbed 1.0, 2.3.4: the three thumbnail fields come together or not at all.
  .refine(
    (b) => new Set([b.thumbnail_url, b.thumbnail_width, b.thumbnail_height].map((v) => v === undefined)).size === 1,
    "thumbnail_url, thumbnail_width and thumbnail_height come together",
  );

describe("oEmbed", () => {
  const url = (u: string, extra = "") => `/oembed?url=${encodeURIComponent(u)}${extra}`;
  const iframeOf = (body: { html: string }) => byTag(parse(body.html), "iframe")[0]!;

  it.each([
    ["https://beatpass.ca/track/1/midnight-run", "track", 1],
    ["https://www.beatpass.ca/artist/3", "artist", 3],
    ["https://beatpass.ca/album/1/night-drive-pack/embed", "album", 1],
    ["https://beatpass.ca/playlist/2/study-loops", "playlist", 2],
  ])("%s -> a rich response framing /widget/%s/%i, followed by embed.js", async (page, kind, id) => {
    const res = await call(url(page, "&format=json"));
    expect(res.status).toBe(200);
    const body = oembedSchema.parse(res.json());
    const doc = parse(body.html);
    expectOembedMarkup(doc, `https://proxy.test/widget/${kind}/${id}`);
    const iframe = iframeOf(body);
    expect(Number(iframe.attribs.width)).toBe(body.width);
    expect(Number(iframe.attribs.height)).toBe(body.height);
  });

  it("without limits, a track is the 480 px wide standard card at its exact height", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/1"))).json());
    expect([body.width, body.height]).toEqual([480, HEIGHT.trackStandard]);
    expect(iframeOf(body).attribs.src).toBe("https://proxy.test/widget/track/1");
  });

  it.each([
    ["&maxwidth=320", 320, ""],
    ["&maxwidth=400&maxheight=1000", 400, ""],
    ["&maxwidth=5000", 480, ""],
    ["&maxwidth=200", 200, ""],
    [`&maxheight=${HEIGHT.trackStandard}`, 480, ""],
    [`&maxheight=${HEIGHT.trackStandard - 1}`, 480, "?size=compact"],
    [`&maxheight=${HEIGHT.trackCompact}`, 480, "?size=compact"],
    ["&maxwidth=300&maxheight=130", 300, "?size=compact"],
  ])("a track with %s is %i wide, framing /widget/track/1%s", async (extra, width, query) => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/1", extra))).json());
    expect(body.width).toBe(width);
    expect(body.height).toBe(query ? HEIGHT.trackCompact : HEIGHT.trackStandard);
    const iframe = iframeOf(body);
    expect([Number(iframe.attribs.width), Number(iframe.attribs.height)]).toEqual([body.width, body.height]);
    expect(iframe.attribs.src).toBe(`https://proxy.test/widget/track/1${query}`);
  });

  // Without a size asked for: standard, else compact, else compact without the track list.
  it.each([
    [HEIGHT.playlist6Standard, "", HEIGHT.playlist6Standard],
    [HEIGHT.playlist6Standard - 1, "?size=compact", HEIGHT.playlist6Compact],
    [HEIGHT.playlist6Compact, "?size=compact", HEIGHT.playlist6Compact],
    [HEIGHT.playlist6Compact - 1, "?size=compact&hide=tracks", HEIGHT.playlist6CompactNoTracks],
    [HEIGHT.playlist6CompactNoTracks, "?size=compact&hide=tracks", HEIGHT.playlist6CompactNoTracks],
  ])("playlist 6 with maxheight=%i frames /widget/playlist/6%s, %i tall", async (maxheight, query, height) => {
    const body = oembedSchema.parse(
      (await call(url("https://beatpass.ca/playlist/6", `&maxheight=${maxheight}`))).json(),
    );
    expect(iframeOf(body).attribs.src).toBe(`https://proxy.test/widget/playlist/6${query}`);
    expect(body.height).toBe(height);
    // The frame is the card's own height: the card at that URL says so too.
    const card = parse((await call(`/widget/playlist/6${query}`)).text);
    expect(Number(metaOf(card)["twitter:player:height"])).toBe(height);
  });

  it.each([
    ["track/1", `&maxheight=${HEIGHT.trackCompact - 1}`],
    ["playlist/6", `&maxheight=${HEIGHT.playlist6CompactNoTracks - 1}`],
    // An explicit size is not swapped for a smaller one.
    ["track/1", `&size=standard&maxheight=${HEIGHT.trackStandard - 1}`],
    ["playlist/6", `&size=compact&maxheight=${HEIGHT.playlist6Compact - 1}`],
    ["track/1", "&maxwidth=199"],
    ["track/1", "&maxwidth=1"],
  ])("404 when no layout of %s fits %s", async (item, extra) => {
    expectProblem(await call(url(`https://beatpass.ca/${item}`, extra)), 404, "not_found");
  });

  it("passes theme, size, accent and hide into the iframe src, canonical and without defaults", async () => {
    const body = oembedSchema.parse(
      (await call(url("https://beatpass.ca/track/1", "&hide=price,bpm&accent=FACC15&theme=dark&size=compact"))).json(),
    );
    expect(iframeOf(body).attribs.src).toBe(
      "https://proxy.test/widget/track/1?theme=dark&size=compact&accent=facc15&hide=bpm,price",
    );
    const defaults = oembedSchema.parse(
      (await call(url("https://beatpass.ca/track/1", "&theme=auto&size=standard"))).json(),
    );
    expect(iframeOf(defaults).attribs.src).toBe("https://proxy.test/widget/track/1");
    expectProblem(await call(url("https://beatpass.ca/track/1", "&theme=neon")), 400, "invalid_request");
  });

  it("a card's discovery link carries its options, and following it frames the same card", async () => {
    const card = parse((await call("/widget/track/1?theme=dark&size=compact")).text);
    const href = oembedLink(card)!.attribs.href!;
    const discovery = new URL(href);
    expect(discovery.origin + discovery.pathname).toBe("https://proxy.test/oembed");
    expect(discovery.searchParams.get("theme")).toBe("dark");
    expect(discovery.searchParams.get("size")).toBe("compact");
    expect(discovery.searchParams.get("format")).toBe("json");
    expect(discovery.searchParams.get("url")).toBe("https://beatpass.ca/track/1/midnight-run");
    const body = oembedSchema.parse((await call(discovery.pathname + discovery.search)).json());
    expect(iframeOf(body).attribs.src).toBe("https://proxy.test/widget/track/1?theme=dark&size=compact");
    expect(body.height).toBe(HEIGHT.trackCompact);
  });

  it.each(["", "&maxwidth=600", `&maxheight=${HEIGHT.trackCompact}`, "&theme=dark&size=compact"])(
    "with %s the thumbnail is this card's PNG, of the size the answer declares",
    async (extra) => {
      const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/1", extra))).json());
      expect(body.thumbnail_url).toBeDefined();
      const thumb = new URL(body.thumbnail_url!);
      expect(thumb.origin).toBe("https://proxy.test");
      expect(thumb.pathname).toBe("/widget/track/1.png");
      // The same card options as the framed card (a PNG's own layout= and width= aside).
      const cardOptions = (u: string) => {
        const params = new URL(u).searchParams;
        params.delete("layout");
        params.delete("width");
        return Object.fromEntries(params);
      };
      // oEmbed 1.0: the thumbnail respects maxwidth and maxheight too.
      const bound = (name: string) => Number(new URLSearchParams(extra).get(name) ?? Number.POSITIVE_INFINITY);
      expect(body.thumbnail_width).toBeLessThanOrEqual(Math.min(1200, bound("maxwidth")));
      expect(body.thumbnail_height).toBeLessThanOrEqual(Math.min(630, bound("maxheight")));
      // As large as allowed, at the link preview's 1.91:1.
      expect(Math.abs(body.thumbnail_width! / body.thumbnail_height! - 1200 / 630)).toBeLessThan(0.01);
      expect(cardOptions(thumb.href)).toEqual(cardOptions(iframeOf(body).attribs.src!));
      const png = await callBytes(thumb.pathname + thumb.search);
      expect(png.status).toBe(200);
      expect(png.headers.get("Content-Type")).toBe("image/png");
      expect(pngDimensions(png.bytes)).toEqual({ width: body.thumbnail_width, height: body.thumbnail_height });
    },
  );

  it("a maxheight under a 200 px wide preview's height leaves the thumbnail out, not the embed", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/artist/3", "&maxheight=100"))).json());
    expect(body.height).toBeLessThanOrEqual(100);
    expect([body.thumbnail_url, body.thumbnail_width, body.thumbnail_height]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("a narrower maxwidth gives a narrower embed", async () => {
    const wide = oembedSchema.parse((await call(url("https://beatpass.ca/album/1"))).json());
    const narrow = oembedSchema.parse((await call(url("https://beatpass.ca/album/1", "&maxwidth=320"))).json());
    expect(narrow.width).toBe(320);
    expect(wide.width).toBeGreaterThan(320);
    // Heights do not depend on the width (every row has a fixed height).
    expect(narrow.height).toBe(wide.height);
  });

  it("gives each size its own ETag and answers If-None-Match with 304", async () => {
    const wide = await call(url("https://beatpass.ca/track/1"));
    const narrow = await call(url("https://beatpass.ca/track/1", "&maxwidth=300"));
    const short = await call(url("https://beatpass.ca/track/1", "&maxheight=130"));
    const etags = [wide, narrow, short].map((r) => r.headers.get("ETag"));
    for (const etag of etags) expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(new Set(etags).size).toBe(3);
    const again = await call(url("https://beatpass.ca/track/1"), {
      headers: { "If-None-Match": wide.headers.get("ETag")! },
    });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
    // The narrow body is not the wide one: its ETag must not validate the wide body.
    const stale = await call(url("https://beatpass.ca/track/1", "&maxwidth=300"), {
      headers: { "If-None-Match": wide.headers.get("ETag")! },
    });
    expect(stale.status).toBe(200);
  });

  it("two answers that differ only in their width have different ETags", async () => {
    const [a, b] = [
      await call(url("https://beatpass.ca/track/1", "&maxwidth=300&maxheight=130")),
      await call(url("https://beatpass.ca/track/1", "&maxwidth=350&maxheight=130")),
    ];
    const [ba, bb] = [a, b].map((r) => oembedSchema.parse(r.json()));
    // The same compact card and the same thumbnail (bounded by maxheight): only the width differs.
    expect([ba!.width, bb!.width]).toEqual([300, 350]);
    expect(iframeOf(ba!).attribs.src).toBe(iframeOf(bb!).attribs.src);
    expect(ba!.thumbnail_url).toBe(bb!.thumbnail_url);
    expect(a.headers.get("ETag")).not.toBe(b.headers.get("ETag"));
  });

  it("escapes the fake's hostile title inside the iframe html", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/61"))).json());
    expectOembedMarkup(parse(body.html), "https://proxy.test/widget/track/61");
    expect(iframeOf(body).attribs.title).toBe(`${XSS_NAME} on BeatPass`);
  });

  it.each([
    "https://evil.example/track/1",
    "https://notbeatpass.ca/track/1",
    "https://beatpass.ca.evil.example/track/1",
    "https://evil.beatpass.ca/track/1",
    "https://beatpass.ca@evil.example/track/1",
    "http://beatpass.ca/track/1",
    "http://www.beatpass.ca/track/1",
    "https://beatpass.ca:8443/track/1",
    "https://user@beatpass.ca/track/1",
    "https://user:pw@www.beatpass.ca/track/1",
    "ftp://beatpass.ca/track/1",
    "https://beatpass.ca/tracks/1",
    "https://beatpass.ca/track/abc",
    "https://beatpass.ca/track/1/../../users/me",
    "javascript:alert(1)",
  ])("404 for a URL it cannot embed: %s", async (page) => {
    expectProblem(await call(url(page)), 404, "not_found");
    expect(upstreamPaths()).toEqual([]);
  });

  it("404 for a BeatPass URL whose item does not exist", async () => {
    expectProblem(await call(url("https://beatpass.ca/track/999")), 404, "not_found");
  });

  it.each(["xml", "yaml", "html", "jsonp"])("501 for format=%s", async (format) => {
    expectProblem(await call(url("https://beatpass.ca/track/1", `&format=${format}`)), 501, "unsupported_format");
    expect(upstreamPaths()).toEqual([]);
  });

  it("format=json is the default and may be given", async () => {
    expect((await call(url("https://beatpass.ca/track/1", "&format=json"))).status).toBe(200);
  });

  it("400 without url", async () => {
    expectProblem(await call("/oembed"), 400, "invalid_request");
  });
});

describe("card contrast (WCAG AA, 4.5:1 for text)", () => {
  // WCAG 2.x relative luminance and contrast ratio, written out here rather than imported.
  const luminance = (hex: string) => {
    expect(hex).toMatch(/^#[0-9a-f]{6}$/);
    const n = Number.parseInt(hex.slice(1), 16);
    const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
      const c = v / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const contrast = (a: string, b: string) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x! + 0.05) / (y! + 0.05);
  };

  it("the contrast function agrees with WCAG's reference values", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
    expect(contrast("#ffffff", "#ffffff")).toBe(1);
  });

  /** The custom properties of each :root block in a card's stylesheet. */
  const rootVars = (css: string) =>
    [...css.matchAll(/:root\{([^}]*)\}/g)].map(
      (m) =>
        Object.fromEntries([...m[1]!.matchAll(/(--[a-z-]+):([^;]+);/g)].map((d) => [d[1]!, d[2]!])) as Record<
          string,
          string
        >,
    );

  /** `fill` of each class rule in an SVG card's stylesheet (a class may have several rules). */
  const fills = (css: string) =>
    Object.fromEntries(
      [...css.matchAll(/\.([a-z]+)\{[^}]*?fill:(#[0-9a-f]{6})/g)].map((m) => [m[1]!, m[2]!]),
    ) as Record<string, string>;

  const ACCENTS = ["000000", "ffffff", "facc15", "7c3aed", "22c55e"];

  it.each(ACCENTS.flatMap((accent) => (["light", "dark"] as const).map((theme) => [accent, theme] as const)))(
    "accent %s on %s: the price's text on the accent, and accent-coloured text on the card, both reach 4.5:1",
    async (accent, theme) => {
      const doc = parse((await call(`/widget/track/1?theme=${theme}&accent=${accent}`)).text);
      const blocks = rootVars(text(byTag(doc, "style")[0]!));
      expect(blocks).toHaveLength(1);
      const v = blocks[0]!;
      // The chip is the site's own colour; only the text on and around it adapts.
      expect(v["--accent"]).toBe(`#${accent}`);
      expect(contrast(v["--on-accent"]!, v["--accent"]!)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(v["--accent-text"]!, v["--bg"]!)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(v["--fg"]!, v["--bg"]!)).toBeGreaterThanOrEqual(4.5);

      const svg = parse((await call(`/widget/track/1.svg?theme=${theme}&accent=${accent}`)).text, true);
      const f = fills(text(byTag(svg, "style")[0]!));
      expect(f.a).toBe(`#${accent}`);
      expect(contrast(f.pt!, f.a!)).toBeGreaterThanOrEqual(4.5);
    },
  );

  it("theme=auto holds both palettes to the same bar", async () => {
    for (const accent of ACCENTS) {
      const doc = parse((await call(`/widget/track/1?accent=${accent}`)).text);
      const blocks = rootVars(text(byTag(doc, "style")[0]!));
      expect(blocks).toHaveLength(2);
      for (const v of blocks) {
        expect(contrast(v["--on-accent"]!, v["--accent"]!)).toBeGreaterThanOrEqual(4.5);
        expect(contrast(v["--accent-text"]!, v["--bg"]!)).toBeGreaterThanOrEqual(4.5);
      }
    }
  });
});

describe("/embed.js", () => {
  it("is served as JavaScript, cached for at least a day, with an ETag that answers 304", async () => {
    const res = await call("/embed.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/javascript(;|$)/);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    const maxAge = Number(/(?:^|,\s*)max-age=(\d+)/.exec(res.headers.get("Cache-Control") ?? "")?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(86_400);
    expect(res.headers.get("Cache-Control")).toMatch(/^public\b/);
    const etag = res.headers.get("ETag");
    expect(etag).toMatch(/^(W\/)?"[^"]+"$/);
    // It listens for the cards' message and sizes only frames marked for it, from their own origin.
    expect(res.text).toContain("beatpass-embed:resize");
    expect(res.text).toContain("iframe[data-beatpass-embed]");
    expect(res.text).toContain("event.origin");
    expect(res.text).not.toMatch(/\beval\(|new Function|innerHTML|document\.write/);

    const again = await call("/embed.js", { headers: { "If-None-Match": etag! } });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
    expect(again.headers.get("ETag")).toBe(etag);
    expect((await call("/embed.js", { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
  });

  it("answers HEAD with the headers and no body", async () => {
    const res = await call("/embed.js", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect(res.headers.get("Content-Type")).toMatch(/^text\/javascript(;|$)/);
    expect(res.headers.get("ETag")).toBe((await call("/embed.js")).headers.get("ETag"));
  });
});

describe("the demo page", () => {
  const ITEMS = [
    ["track", 1],
    ["artist", 3],
    ["album", 1],
    ["playlist", 6],
  ] as const;

  it("embeds every card at its exact height in light and dark, with the four snippets", async () => {
    const res = await call("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const doc = parse(res.text);
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual({
      "default-src": "'none'",
      "style-src": await hashSource(text(byTag(doc, "style")[0]!)),
      "script-src": "'self'",
      "img-src": "'self' data:",
      "frame-src": "'self'",
      "base-uri": "'none'",
      "form-action": "'none'",
    });
    // Its only script is embed.js, from this origin; no inline code, no handlers.
    expect(byTag(doc, "script").map((s) => [s.attribs.src, text(s)])).toEqual([["/embed.js", ""]]);
    expect(unsafeBits(doc).filter((b) => b !== "<iframe>" && b !== "<script>")).toEqual([]);

    const frames = byTag(doc, "iframe");
    const images = byTag(doc, "img").map((i) => i.attribs.src);
    const snippets = byTag(doc, "code").map((c) => text(c));
    for (const [kind, id] of ITEMS) {
      const widget = `https://proxy.test/widget/${kind}/${id}`;
      const page = `https://beatpass.ca/${kind}/${id}`;
      const oembed = oembedSchema.parse((await call(`/oembed?url=${encodeURIComponent(page)}`)).json());
      for (const theme of ["light", "dark"]) {
        const frame = frames.find((f) => f.attribs.src === `${widget}?theme=${theme}`);
        expect(frame, `${kind} ${theme} frame`).toBeDefined();
        expect(Number(frame!.attribs.height), `${kind} ${theme} height`).toBe(oembed.height);
        expect(frame!.attribs).toHaveProperty("data-beatpass-embed");
        expect(images).toContain(`${widget}.svg?theme=${theme}`);
      }
      const mine = snippets.filter(
        (s) => s.includes(`/${kind}/${id}`) || s.includes(encodeURIComponent(`/${kind}/${id}`)),
      );
      expect(mine).toEqual([
        `<iframe src="${widget}" width="480" height="${oembed.height}" style="border:0;max-width:100%" loading="lazy" title="BeatPass ${kind}" data-beatpass-embed></iframe>\n<script async src="https://proxy.test/embed.js"></script>`,
        `<img src="${widget}.svg" alt="BeatPass ${kind}">`,
        `<a href="${page}"><img src="${widget}.png?layout=card" width="480" height="136" alt="BeatPass ${kind}"></a>`,
        `https://proxy.test/oembed?url=${encodeURIComponent(page)}&format=json`,
      ]);
    }
    expect(
      frames.find((f) => f.attribs.src === "https://proxy.test/widget/playlist/6?theme=light")?.attribs.height,
    ).toBe(String(HEIGHT.playlist6Standard));
  });

  it("the e-mail snippet's size is the PNG's own", async () => {
    const png = await callBytes("/widget/track/1.png?layout=card");
    expect(pngDimensions(png.bytes)).toEqual({ width: 480, height: 136 });
  });

  it("reads each card's data once and sizes it without the waveform", async () => {
    await call("/");
    expect(upstreamPaths().sort()).toEqual(["/albums/1", "/artists/3", "/playlists/6", "/tracks/1"]);
  });

  it("gives API clients the JSON route index instead", async () => {
    const res = await call("/", { headers: { Accept: "application/json" } });
    expect(res.json().routes).toContain("/v1/tracks/:id");
  });
});
