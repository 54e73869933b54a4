import { describe, expect, it } from "vitest";
import { z } from "zod";
import { XSS_NAME } from "../../fake/catalog.mjs";
import { all, byTag, parse, text, unsafeBits } from "../helpers/dom";
import { type Called, call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

type Doc = ReturnType<typeof parse>;
type El = ReturnType<typeof all>[number];

function expectEmbedHeaders(res: Called) {
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
  expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d+/);
  expect(res.headers.get("X-Frame-Options")).toBeNull();
}

/** The hash source a CSP needs to allow exactly this <style> content (computed here, not by src/). */
async function styleHash(css: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(css));
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

/** The CSP an HTML card must carry: its own stylesheet by hash and nothing else it does not need. */
async function expectedHtmlCsp(doc: Doc, imgSrc: string, frameAncestors: string) {
  const styles = byTag(doc, "style");
  expect(styles).toHaveLength(1);
  return {
    "default-src": "'none'",
    "style-src": await styleHash(text(styles[0]!)),
    "img-src": `${imgSrc} data:`,
    "frame-ancestors": frameAncestors,
    "base-uri": "'none'",
    "form-action": "'none'",
  };
}

// vitest.config.ts sets IMAGE_HOSTS for the Worker under test to these three.
const TEST_IMG_SRC = "https://fake-beatpass.test https://beatpass.ca https://*.beatpass.ca";
// Opened directly, an SVG card is a document: no script, no fetch, inline style only.
const SVG_CSP = { "default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:" };

describe("HTML widgets", () => {
  it.each([
    ["/widget/track/1", "Midnight Run"],
    ["/widget/artist/3", "Lumen Loops"],
    ["/widget/album/1", "Night Drive Pack"],
    ["/widget/playlist/1", "Late Night Trap"],
  ])("%s renders a card with its exact CSP, nosniff, ETag and caching", async (path, name) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expectEmbedHeaders(res);
    const doc = parse(res.text);
    expect(text(byTag(doc, "h1")[0]!)).toContain(name);
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(doc, TEST_IMG_SRC, "*"),
    );
    const oembed = byTag(doc, "link").find((l) => l.attribs.type === "application/json+oembed");
    expect(oembed?.attribs.href).toMatch(/^https:\/\/proxy\.test\/oembed\?url=https%3A%2F%2Fbeatpass\.ca%2F/);
    expect(oembed?.attribs.title).toBe(name);
  });

  it("the CSP's style hash follows the stylesheet of each theme and accent", async () => {
    for (const q of ["?theme=dark", "?theme=light&accent=ff0066", "?size=compact"]) {
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

  it("draws the track's artwork, facts and waveform with two upstream requests, then none", async () => {
    const res = await call("/widget/track/1");
    const doc = parse(res.text);
    expect(byTag(doc, "img")[0]?.attribs.src).toBe("https://fake-beatpass.test/images/tracks/1.jpg");
    expect(byTag(doc, "li").map((li) => text(li))).toEqual([
      "107 BPM",
      "F minor",
      "3:29",
      "Lease or exclusive",
      "$24.99",
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
    expect(unsafeBits(doc)).toEqual([]);
    expect(text(byTag(doc, "h1")[0]!)).toBe(XSS_NAME);
    for (const img of byTag(doc, "img")) expect(img.attribs.src).toMatch(/^https:\/\/fake-beatpass\.test\/images\//);
  });

  it("degrades to no waveform when the waveform read fails", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/tracks/4/wave" });
    const res = await call("/widget/track/4");
    expect(res.status).toBe(200);
    expect(byTag(parse(res.text), "svg")).toEqual([]);
  });

  it("frame-ancestors follows FRAME_ANCESTORS", async () => {
    const sources = "https://blog.example 'self' https://*.shop.example:8443";
    const res = await call("/widget/track/1", {}, { FRAME_ANCESTORS: sources });
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      await expectedHtmlCsp(parse(res.text), TEST_IMG_SRC, sources),
    );
  });

  // A value that smuggles a directive (";"), a scheme-wide source or a path must be refused
  // as a whole: a card with a wider policy than configured is worse than no card.
  it.each([
    "https://a.example; script-src *",
    "https://a.example;script-src https://evil.example",
    "*;script-src *",
    "'self';report-uri",
    "https://a.example/path",
    "javascript:x",
    "https:",
  ])("FRAME_ANCESTORS=%s is a 503 config error, not a wider policy", async (value) => {
    for (const path of ["/widget/track/1", "/widget/track/1.svg"])
      expectProblem(await call(path, {}, { FRAME_ANCESTORS: value }), 503, "config_error");
    expect(upstreamPaths()).toEqual([]);
  });

  it.each([
    "* https:",
    "img.example; script-src *",
    "img.example;script-src",
    "img.example https:",
    "https://img.example",
    "img.example/path",
    "*",
  ])("IMAGE_HOSTS=%s is a 503 config error, not a wider policy", async (value) => {
    for (const path of ["/widget/track/1", "/widget/track/1.svg"])
      expectProblem(await call(path, {}, { IMAGE_HOSTS: value }), 503, "config_error");
    expect(upstreamPaths()).toEqual([]);
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
      // The SVG card does not even try to fetch it (a fetch to any host but the fake fails the test).
      const svg = parse((await call("/widget/track/7.svg?hide=waveform")).text, true);
      expect(byTag(svg, "image")).toEqual([]);
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

describe("SVG widgets", () => {
  it.each(["/widget/track/1.svg", "/widget/artist/3.svg", "/widget/album/1.svg"])(
    "%s is a self-contained image with inlined artwork and its exact CSP",
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
      // Artwork is fetched without the BeatPass token.
      const imageRequest = fake.requests.find((r) => r.path.startsWith("/images/"));
      expect(imageRequest?.headers.authorization).toBeUndefined();
    },
  );

  it("a card and its artwork are cached: the second view costs no upstream request", async () => {
    await call("/widget/track/1.svg");
    const before = fake.requests.length;
    await call("/widget/track/1.svg?theme=dark");
    expect(fake.requests.length).toBe(before);
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
    expect(res.text).not.toContain("data:");
    expect(fake.requests.some((r) => r.path.startsWith("/images/"))).toBe(true);
  });

  it("playlists have no SVG card", async () => {
    expectProblem(await call("/widget/playlist/1.svg"), 404, "not_found");
  });
});

// ---- every upstream string, hostile, in every card ----

/**
 * Each upstream string field gets a label such as ⟦tn⟧. A benign card is rendered with the
 * bare labels, a hostile one with each label followed by ATTACK; the hostile card must have
 * exactly the benign card's elements and attributes, and show the attack as text wherever
 * the benign card shows the label (control characters removed: XML forbids them).
 */
const ATTACK = `"><img src=x onerror=alert(1)>'&amp;\u0001</title></style>`;
const SHOWN = `"><img src=x onerror=alert(1)>'&amp;</title></style>`;
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
      release_date: v("⟦rd⟧"),
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
  "album svg": ["⟦al⟧", "⟦a1⟧", "⟦a2⟧", "⟦rd⟧"],
  "playlist html": ["⟦pl⟧", "⟦t1⟧", "⟦t2⟧", "⟦d1⟧"],
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

/** The hostile card is the benign card with every label followed by the attack, shown as text. */
function expectSameCard(benignMarkup: string, hostileMarkup: string, xml: boolean) {
  const b = parse(benignMarkup, xml);
  const h = parse(hostileMarkup, xml);
  expect(unsafeBits(h)).toEqual([]);
  expect(shape(h), "elements and attributes").toEqual(shape(b));
  expect(hostileMarkup).not.toMatch(XML_FORBIDDEN);
  const [be, he] = [all(b), all(h)];
  for (const [i, el] of he.entries()) {
    const ref = be[i]!;
    for (const [name, value] of Object.entries(el.attribs)) {
      // Links carry ids and slugs (checked below), everything else must match.
      if (name === "href") continue;
      expect(value, `<${el.name} ${name}>`).toBe(expand(ref.attribs[name]!));
    }
    const got = ownText(el);
    const want = expand(ownText(ref));
    // SVG text cannot wrap, so long lines end in "…": then what is shown is the start.
    if (xml && got !== want && got.endsWith("…")) expect(want.startsWith(got.slice(0, -1)), got).toBe(true);
    else expect(got, `text of <${el.name}>`).toBe(want);
  }
  for (const el of all(h)) {
    const href = el.attribs.href;
    if (href !== undefined)
      expect(href).toMatch(
        /^(https:\/\/beatpass\.ca\/[a-z]+\/\d+\/[a-z0-9-]+|https:\/\/proxy\.test\/oembed\?url=https%3A%2F%2Fbeatpass\.ca%2F[^"<>]*)$/,
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
      // The title, the document title and the oEmbed discovery link carry the full name.
      const name = expand(NAME_LABEL[kind]);
      expect(text(byTag(h, "h1")[0]!)).toContain(name);
      expect(text(byTag(h, "title")[0]!)).toBe(`${name} · BeatPass`);
      expect(byTag(h, "link").find((l) => l.attribs.type === "application/json+oembed")?.attribs.title).toBe(name);
      expect(byTag(h, "img")).toEqual([]); // javascript: artwork
      expect(directives(loud.headers.get("Content-Security-Policy"))).toEqual(
        await expectedHtmlCsp(h, TEST_IMG_SRC, "*"),
      );
    } else {
      // The accessible name is never truncated: title and subtitle in full.
      const label = byTag(h, "svg")[0]!.attribs["aria-label"];
      expect(text(byTag(h, "title")[0]!)).toBe(label);
      expect(label).toContain(SHOWN);
      expect(directives(loud.headers.get("Content-Security-Policy"))).toEqual(SVG_CSP);
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
    expect(unsafeBits(doc).filter((b) => b !== "<iframe>")).toEqual([]);
    expect(shape(doc)).toEqual(["iframe[height loading src style title width]"]);
    const iframe = byTag(doc, "iframe")[0]!;
    expect(iframe.attribs.title).toBe(`${expand(name)} on BeatPass`);
    expect(iframe.attribs.src).toBe(`https://proxy.test/widget/${kind}/802`);
  });
});

describe("widget failures", () => {
  it.each([
    ["/widget/track/999", "not_found", "public, max-age=60", "This item is not on BeatPass."],
    ["/widget/track/999.svg", "not_found", "public, max-age=60", "This item is not on BeatPass."],
  ])("%s draws an error card with status 200 (%s)", async (path, code, cacheControl, message) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Problem-Code")).toBe(code);
    expect(res.headers.get("Cache-Control")).toBe(cacheControl);
    const svg = path.endsWith(".svg");
    const doc = parse(res.text, svg);
    expect(unsafeBits(doc)).toEqual([]);
    expect(text(doc)).toContain(message);
    expect(text(doc)).toContain(code);
    expect(directives(res.headers.get("Content-Security-Policy"))).toEqual(
      svg ? SVG_CSP : await expectedHtmlCsp(doc, TEST_IMG_SRC, "*"),
    );
  });

  it("an upstream outage is an error card cached for ten seconds, without BeatPass's words", async () => {
    fake.addFault({ kind: "status", status: 500, body: { message: "SQLSTATE secret" }, path: "/albums/2" });
    for (const path of ["/widget/album/2", "/widget/album/2.svg"]) {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Problem-Code")).toBe("upstream_error");
      expect(res.headers.get("Cache-Control")).toBe("public, max-age=10");
      expect(res.text).not.toContain("SQLSTATE");
    }
  });

  it.each([
    ["/widget/track/abc", "id"],
    ["/widget/track/1?theme=neon", "theme"],
    ["/widget/track/1?accent=red", "accent"],
    ["/widget/track/1?accent=fff;}body{", "accent"],
    ["/widget/track/1?hide=price,cookies", "hide"],
    ["/widget/track/1?size=huge", "size"],
  ])("bad input %s is a 400 problem naming %s, with no upstream request", async (path, name) => {
    const problem = expectProblem(await call(path), 400, "invalid_request");
    expect(problem.errors?.map((e) => e.name)).toContain(name);
    expect(upstreamPaths()).toEqual([]);
  });

  it("an unknown widget kind is a 404 problem", async () => {
    expectProblem(await call("/widget/user/1"), 404, "not_found");
  });
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
  })
  .strict();

describe("oEmbed", () => {
  const url = (u: string, extra = "") => `/oembed?url=${encodeURIComponent(u)}${extra}`;
  const iframeOf = (body: { html: string }) => byTag(parse(body.html), "iframe")[0]!;

  it.each([
    ["https://beatpass.ca/track/1/midnight-run", "track", 1],
    ["https://www.beatpass.ca/artist/3", "artist", 3],
    ["https://beatpass.ca/album/1/night-drive-pack/embed", "album", 1],
    ["https://beatpass.ca/playlist/2/study-loops", "playlist", 2],
  ])("%s -> a rich response framing /widget/%s/%i", async (page, kind, id) => {
    const res = await call(url(page, "&format=json"));
    expect(res.status).toBe(200);
    const body = oembedSchema.parse(res.json());
    const iframe = iframeOf(body);
    expect(iframe.attribs.src).toBe(`https://proxy.test/widget/${kind}/${id}`);
    expect(Number(iframe.attribs.width)).toBe(body.width);
    expect(Number(iframe.attribs.height)).toBe(body.height);
  });

  // README, "Widgets": the documented track embed is 480 x 176.
  it("without limits, a track is the documented 480 x 176 card", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/1"))).json());
    expect([body.width, body.height]).toEqual([480, 176]);
    expect(iframeOf(body).attribs.src).toBe("https://proxy.test/widget/track/1");
  });

  it.each([
    ["&maxwidth=320", 320, undefined],
    ["&maxwidth=400&maxheight=1000", 400, 1000],
    ["&maxwidth=5000", 5000, undefined],
    ["&maxheight=150", undefined, 150],
    ["&maxheight=100", undefined, 100],
    ["&maxwidth=300&maxheight=150", 300, 150],
  ])("honours %s", async (extra, maxwidth, maxheight) => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/1", extra))).json());
    if (maxwidth) expect(body.width).toBeLessThanOrEqual(maxwidth);
    if (maxheight) expect(body.height).toBeLessThanOrEqual(maxheight);
    const iframe = iframeOf(body);
    expect([Number(iframe.attribs.width), Number(iframe.attribs.height)]).toEqual([body.width, body.height]);
    // Shorter than the standard card (README: 176 for a track) means the compact card.
    expect(iframe.attribs.src).toBe(
      maxheight && maxheight < 176
        ? "https://proxy.test/widget/track/1?size=compact"
        : "https://proxy.test/widget/track/1",
    );
  });

  it("a narrower maxwidth gives a narrower embed", async () => {
    const wide = oembedSchema.parse((await call(url("https://beatpass.ca/album/1"))).json());
    const narrow = oembedSchema.parse((await call(url("https://beatpass.ca/album/1", "&maxwidth=320"))).json());
    expect(narrow.width).toBe(320);
    expect(wide.width).toBeGreaterThan(320);
  });

  it("gives each size its own ETag and answers If-None-Match with 304", async () => {
    const wide = await call(url("https://beatpass.ca/track/1"));
    const narrow = await call(url("https://beatpass.ca/track/1", "&maxwidth=300"));
    const short = await call(url("https://beatpass.ca/track/1", "&maxheight=150"));
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

  it("escapes the fake's hostile title inside the iframe html", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/61"))).json());
    expect(unsafeBits(parse(body.html)).filter((b) => b !== "<iframe>")).toEqual([]);
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

describe("the demo page", () => {
  it("embeds every widget in light and dark with copyable snippets", async () => {
    const res = await call("/");
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-src 'self'");
    const doc = parse(res.text);
    const frames = byTag(doc, "iframe").map((f) => f.attribs.src);
    for (const kind of ["track/1", "artist/3", "album/1", "playlist/1"]) {
      expect(frames).toContain(`https://proxy.test/widget/${kind}?theme=light`);
      expect(frames).toContain(`https://proxy.test/widget/${kind}?theme=dark`);
    }
    const snippets = byTag(doc, "code").map((c) => text(c));
    expect(snippets.some((s) => s.startsWith('<iframe src="https://proxy.test/widget/track/1"'))).toBe(true);
    expect(snippets.some((s) => s.startsWith('<img src="https://proxy.test/widget/track/1.svg"'))).toBe(true);
    expect(snippets.some((s) => s.startsWith("https://proxy.test/oembed?url="))).toBe(true);
    expect(upstreamPaths()).toEqual([]);
  });

  it("gives API clients the JSON route index instead", async () => {
    const res = await call("/", { headers: { Accept: "application/json" } });
    expect(res.json().routes).toContain("/v1/tracks/:id");
  });
});
