import { describe, expect, it } from "vitest";
import { esc } from "../../src/render/escape";
import { artistCard, collectionCard, errorCard, htmlPage, trackCard } from "../../src/render/html-card";
import { albumSvg, artistSvg, errorSvg, svgCard, trackSvg } from "../../src/render/svg-card";
import { CARD_CSS, themeCss } from "../../src/render/theme";
import { allowedUrl } from "../../src/render/urls";
import type { Album, Artist, Track } from "../../src/schemas/entities";
import { widgetQuerySchema } from "../../src/schemas/widget";
import { all, byTag, parse, text, unsafeBits } from "../helpers/dom";

const HOSTS = ["beatpass.ca", "*.beatpass.ca"];
const XSS = `"><img src=x onerror=alert(1)><script>alert('xss')</script></style><svg onload=alert(2)>`;
const RTL = "مُنتِج الإيقاع 🎹 <b onmouseover=alert(3)>";
const opts = (q: Record<string, string> = {}) => widgetQuerySchema.parse(q);
// XML 1.0 forbids these (C0 controls but tab/LF/CR, U+FFFE/FFFF, lone surrogates).
const XML_FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding these characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROLS = "\u0000\u0001\u0008\u000B\u001F\uFFFE\uD800";

const hostile: Track = {
  id: 61,
  name: XSS,
  image: "javascript:alert(4)",
  bpm: 140,
  key: "<i>F#</i>",
  scale: `minor" onload="alert(8)`,
  price: 29.99,
  currency: "USD",
  licensing_type: "both",
  duration_text: "2:53",
  artists: [{ id: 13, name: RTL, verified: true }],
  description: "</style><script>alert(7)</script>",
};

function page(card: { title: string; body: string }, q: Record<string, string> = {}) {
  const o = opts(q);
  const css = themeCss(o) + CARD_CSS;
  return { html: htmlPage(card, css, o, "https://edge.example/oembed?url=x&format=json"), css };
}

describe("esc", () => {
  it.each([XSS, "Tom & Jerry &amp; &lt;b&gt; &#39;", `He said "hi" and 'bye'`, `a${CONTROLS}b\tc\nd`, "🎹 مُنتِج 😀"])(
    "text and a double-quoted attribute read back as the input, in HTML and XML: %j",
    (value) => {
      const visible = value.replace(new RegExp(XML_FORBIDDEN.source, "g"), "");
      for (const xml of [false, true]) {
        const markup = `<p title="${esc(value)}">${esc(value)}</p>`;
        expect(markup).not.toMatch(XML_FORBIDDEN);
        const doc = parse(markup, xml);
        const els = all(doc);
        expect(els.map((e) => [e.name, Object.keys(e.attribs)])).toEqual([["p", ["title"]]]);
        expect(els[0]!.attribs.title).toBe(visible);
        expect(text(doc)).toBe(visible);
      }
    },
  );

  it("writes nothing for null and undefined, and numbers as text", () => {
    expect([esc(null), esc(undefined), esc(0), esc(12.5)]).toEqual(["", "", "0", "12.5"]);
  });
});

describe("HTML cards with hostile data", () => {
  it("shows a markup-laden title as text and injects nothing", () => {
    const { html, css } = page(trackCard(hostile, { peaks: [0.1, 0.9, 0.4] }, { options: opts(), imageHosts: HOSTS }));
    const doc = parse(html);
    expect(unsafeBits(doc)).toEqual([]);
    expect(text(byTag(doc, "h1")[0]!)).toBe(XSS);
    expect(text(byTag(doc, "title")[0]!)).toBe(`${XSS} · BeatPass`);
    // One stylesheet, exactly ours: "</style>" in data cannot close it.
    expect(byTag(doc, "style").map((s) => text(s))).toEqual([css]);
    expect(byTag(doc, "img")).toEqual([]); // javascript: artwork is dropped
    const facts = byTag(doc, "li").map((li) => text(li));
    expect(facts).toEqual(["140 BPM", `<i>F#</i> minor" onload="alert(8)`, "2:53", "Lease or exclusive", "$29.99"]);
    expect(text(byTag(doc, "p")[0]!)).toBe(RTL);
    expect(byTag(doc, "p")[0]!.attribs.dir).toBe("auto");
  });

  it("links only to BeatPass pages it builds itself", () => {
    const doc = parse(page(trackCard(hostile, undefined, { options: opts(), imageHosts: HOSTS })).html);
    const hrefs = byTag(doc, "a").map((a) => a.attribs.href);
    expect(hrefs).toEqual([
      "https://beatpass.ca/track/61/img-src-x-onerror-alert-1-script-alert-xss-script-style-svg-onload-alert-2",
    ]);
    expect(byTag(doc, "link")[0]!.attribs.href).toBe("https://edge.example/oembed?url=x&format=json");
  });

  it("renders a track with only id and name, without 'undefined' or 'null'", () => {
    const { html } = page(trackCard({ id: 1, name: "Bare" }, undefined, { options: opts(), imageHosts: HOSTS }));
    expect(html).not.toMatch(/undefined|null|NaN/);
    const doc = parse(html);
    expect(byTag(doc, "ul")).toEqual([]);
    expect(byTag(doc, "svg")).toEqual([]);
  });

  it("honours hide= and accent=", () => {
    const o = { hide: "price,waveform,artwork,bpm", accent: "#0F0" };
    const track = { ...hostile, image: "https://img.beatpass.ca/a.jpg" };
    const { html, css } = page(trackCard(track, { peaks: [0.5] }, { options: opts(o), imageHosts: HOSTS }), o);
    const doc = parse(html);
    expect(byTag(doc, "img")).toEqual([]);
    expect(byTag(doc, "svg")).toEqual([]);
    expect(byTag(doc, "li").map((li) => text(li))).not.toContain("$29.99");
    expect(css).toContain("--accent:#00ff00;");
  });

  it("shows allowlisted https artwork, escaped into the attribute", () => {
    const track = { ...hostile, image: 'https://img.beatpass.ca/a.jpg?x="><script>' };
    const doc = parse(page(trackCard(track, undefined, { options: opts(), imageHosts: HOSTS })).html);
    expect(byTag(doc, "img").map((i) => i.attribs.src)).toEqual(["https://img.beatpass.ca/a.jpg?x=%22%3E%3Cscript%3E"]);
  });

  it("artist, album and playlist cards resist the same payloads", () => {
    const artist: Artist = {
      id: 13,
      name: RTL,
      verified: true,
      image_small: "data:image/svg+xml,<svg onload=alert(1)>",
      top_tracks: [hostile],
      genres: [{ id: 1, name: XSS }],
    };
    const album: Album = {
      id: 5,
      name: XSS,
      artists: [{ id: 13, name: RTL }],
      tracks: [hostile, { id: 2, name: "ok" }],
    };
    const cases: [{ title: string; body: string }, string][] = [
      [artistCard(artist, { options: opts(), imageHosts: HOSTS }), RTL],
      [collectionCard("album", album, { options: opts(), imageHosts: HOSTS }), XSS],
      [errorCard("not_found", XSS), XSS],
    ];
    for (const [card, shown] of cases) {
      const doc = parse(page(card).html);
      expect(unsafeBits(doc)).toEqual([]);
      expect(byTag(doc, "img")).toEqual([]);
      expect(text(doc)).toContain(shown);
    }
  });

  it("compact lists show three tracks and link to the rest", () => {
    const album: Album = { id: 5, name: "Pack", tracks: Array(12).fill(hostile) };
    const doc = parse(
      page(collectionCard("playlist", album, { options: opts({ size: "compact" }), imageHosts: HOSTS })).html,
    );
    const items = byTag(doc, "ol")[0]!.children.filter((n) => "name" in n);
    expect(items).toHaveLength(3);
    expect(text(byTag(doc, "p").at(-1)!)).toBe("9 more on BeatPass");
  });
});

describe("SVG cards with hostile data", () => {
  const art = "data:image/png;base64,iVBORw0KGgo=";

  it("are well-formed XML with no script, handler or external reference", () => {
    for (const svg of [
      trackSvg({ ...hostile, name: `${XSS}${CONTROLS}` }, { peaks: [0.2, 0.8] }, art, opts()),
      artistSvg({ id: 13, name: RTL, verified: true, top_tracks: [hostile] }, art, opts({ theme: "dark" })),
      albumSvg({ id: 5, name: XSS, artists: [{ id: 1, name: RTL }] }, undefined, opts({ size: "compact" })),
      errorSvg("upstream_error", XSS, opts()),
    ]) {
      expect(svg).not.toMatch(XML_FORBIDDEN);
      const doc = parse(svg, true);
      const root = doc.children.find((n) => "name" in n) as { name: string } | undefined;
      expect(root?.name).toBe("svg");
      expect(unsafeBits(doc)).toEqual([]);
      for (const el of all(doc)) {
        for (const [name, value] of Object.entries(el.attribs)) {
          if (name === "href" || name === "xlink:href") expect(value.startsWith("data:image/png;base64,")).toBe(true);
        }
      }
      // Escaped markup survives as text; raw markup would have become elements.
      expect(byTag(doc, "img")).toEqual([]);
      expect(byTag(doc, "b")).toEqual([]);
    }
  });

  it("svgCard writes every text input as text, without characters XML forbids", () => {
    const bad = (label: string) => `${label}<b x="1">&amp;'${CONTROLS}`;
    const shown = (label: string) => `${label}<b x="1">&amp;'`;
    const svg = svgCard(
      { title: bad("T"), subtitle: bad("S"), facts: [bad("F1"), bad("F2")], price: bad("P"), peaks: [0.5] },
      opts(),
    );
    expect(svg).not.toMatch(XML_FORBIDDEN);
    const doc = parse(svg, true);
    expect(unsafeBits(doc)).toEqual([]);
    expect(byTag(doc, "b")).toEqual([]);
    expect(byTag(doc, "text").map((t) => text(t))).toEqual([
      shown("T"),
      shown("S"),
      `${shown("F1")}  ·  ${shown("F2")}`,
      shown("P"),
    ]);
    const label = `${shown("T")} — ${shown("S")}`;
    expect(byTag(doc, "svg")[0]!.attribs["aria-label"]).toBe(label);
    expect(text(byTag(doc, "title")[0]!)).toBe(label);
  });

  it("keeps the title as text, truncated by characters without splitting emoji", () => {
    const long = "🎹".repeat(80);
    const doc = parse(
      trackSvg({ id: 1, name: long, artists: [{ id: 2, name: RTL }] }, undefined, undefined, opts()),
      true,
    );
    const title = text(byTag(doc, "text")[0]!);
    expect(title.endsWith("…")).toBe(true);
    expect([...title.slice(0, -1)].every((ch) => ch === "🎹")).toBe(true);
    expect(text(byTag(doc, "text")[1]!)).toBe(RTL);
  });

  it("embeds the artwork only as a data URI and only when given", () => {
    const withArt = parse(trackSvg(hostile, undefined, art, opts()), true);
    expect(byTag(withArt, "image").map((i) => i.attribs.href)).toEqual([art]);
    expect(byTag(parse(trackSvg(hostile, undefined, undefined, opts()), true), "image")).toEqual([]);
  });

  it("themes: auto carries a prefers-color-scheme rule, light and dark do not", () => {
    expect(trackSvg(hostile, undefined, undefined, opts())).toContain("prefers-color-scheme:dark");
    expect(trackSvg(hostile, undefined, undefined, opts({ theme: "dark" }))).not.toContain("prefers-color-scheme");
  });
});

describe("allowedUrl", () => {
  it.each([
    ["https://beatpass.ca/a.jpg", true],
    ["https://img.beatpass.ca/a.jpg", true],
    ["https://evilbeatpass.ca/a.jpg", false],
    ["https://notbeatpass.ca/a.jpg", false],
    ["https://a.notbeatpass.ca/a.jpg", false],
    ["https://user@img.beatpass.ca/a.jpg", false],
    ["https://:pw@img.beatpass.ca/a.jpg", false],
    ["http://img.beatpass.ca/a.jpg", false],
    ["https://img.beatpass.ca:8443/a.jpg", false],
    ["https://beatpass.ca.evil.com/a.jpg", false],
    ["http://beatpass.ca/a.jpg", false],
    ["javascript:alert(1)", false],
    ["data:image/png;base64,AAAA", false],
    ["https://user:pw@beatpass.ca/a.jpg", false],
    ["https://beatpass.ca:8443/a.jpg", false],
    ["//beatpass.ca/a.jpg", false],
    ["http://127.0.0.1:8790/images/1.png", false],
  ])("%s -> %s", (url, ok) => {
    expect(allowedUrl(url, HOSTS) !== undefined).toBe(ok);
  });

  it("allows plain http only to a listed loopback host:port", () => {
    expect(allowedUrl("http://127.0.0.1:8790/images/1.png", ["127.0.0.1:8790"])).toBe(
      "http://127.0.0.1:8790/images/1.png",
    );
    expect(allowedUrl("http://127.0.0.1:9999/images/1.png", ["127.0.0.1:8790"])).toBeUndefined();
    // A listed host:port that is not loopback still needs https.
    expect(allowedUrl("http://img.example:8080/a.png", ["img.example:8080"])).toBeUndefined();
    expect(allowedUrl("https://img.example:8080/a.png", ["img.example:8080"])).toBe("https://img.example:8080/a.png");
    expect(allowedUrl("http://user:pw@127.0.0.1:8790/a.png", ["127.0.0.1:8790"])).toBeUndefined();
  });
});

describe("widget options", () => {
  it("normalise accents and reject anything that is not a hex colour", () => {
    expect(opts({ accent: "#ABC" }).accent).toBe("aabbcc");
    for (const bad of ["red", "#12345", "fff;}body{x", "url(x)"])
      expect(widgetQuerySchema.safeParse({ accent: bad }).success).toBe(false);
    expect(widgetQuerySchema.safeParse({ theme: "neon" }).success).toBe(false);
    expect(widgetQuerySchema.safeParse({ hide: "price,secrets" }).success).toBe(false);
  });
});
