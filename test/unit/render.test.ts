import { describe, expect, it } from "vitest";
import { esc } from "../../src/render/escape";
import { artistCard, type Card, collectionCard, errorCard, trackCard } from "../../src/render/html-card";
import { htmlPage, type PageLinks } from "../../src/render/page";
import { artistSvg, collectionSvg, errorSvg, type SvgRender, svgCard, trackSvg } from "../../src/render/svg-card";
import { fitText, textWidth } from "../../src/render/text";
import { CARD_CSS, themeCss } from "../../src/render/theme";
import { allowedUrl } from "../../src/render/urls";
import type { Album, Artist, Playlist, Track } from "../../src/schemas/entities";
import { widgetQuerySchema } from "../../src/schemas/widget";
import { all, byTag, CARD_RESIZE_SCRIPT, cardUnsafeBits, parse, text, unsafeBits } from "../helpers/dom";

const HOSTS = ["beatpass.ca", "*.beatpass.ca"];
const XSS = `"><img src=x onerror=alert(1)><script>alert('xss')</script></style><svg onload=alert(2)>`;
const RTL = "مُنتِج الإيقاع 🎹 <b onmouseover=alert(3)>";
const opts = (q: Record<string, string> = {}) => widgetQuerySchema.parse(q);
const ctx = (q: Record<string, string> = {}) => ({ options: opts(q), imageHosts: HOSTS });
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

const LINKS: PageLinks = {
  kind: "track",
  self: "https://edge.example/widget/track/61",
  oembed: "https://edge.example/oembed?url=x&format=json",
  image: { url: "https://edge.example/widget/track/61.png", width: 1200, height: 630 },
  width: 480,
};

/** The card's iframe document, with LINKS for its previews unless `links` is null (error cards). */
function page(card: Card, q: Record<string, string> = {}, links: PageLinks | null = LINKS) {
  const o = opts(q);
  const css = themeCss(o) + CARD_CSS;
  return { html: htmlPage(card, css, o.size, links ?? undefined), css };
}

const metaOf = (doc: ReturnType<typeof parse>) =>
  Object.fromEntries(
    byTag(doc, "meta")
      .filter((m) => m.attribs.property ?? m.attribs.name)
      .map((m) => [m.attribs.property ?? m.attribs.name, m.attribs.content]),
  );

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
    const { html, css } = page(trackCard(hostile, { peaks: [0.1, 0.9, 0.4] }, ctx()));
    const doc = parse(html);
    expect(cardUnsafeBits(doc)).toEqual([]);
    expect(text(byTag(doc, "h1")[0]!)).toBe(XSS);
    expect(text(byTag(doc, "title")[0]!)).toBe(`${XSS} · BeatPass`);
    // One stylesheet, exactly ours: "</style>" in data cannot close it.
    expect(byTag(doc, "style").map((s) => text(s))).toEqual([css]);
    // One script, exactly the fixed one: "</script>" in data cannot add another.
    expect(byTag(doc, "script").map((s) => [s.attribs, text(s)])).toEqual([[{}, CARD_RESIZE_SCRIPT]]);
    expect(byTag(doc, "img")).toEqual([]); // javascript: artwork is dropped
    const facts = byTag(doc, "li").map((li) => text(li));
    expect(facts).toEqual(["$29.99", "140 BPM", `<i>F#</i> minor" onload="alert(8)`, "2:53", "Lease or exclusive"]);
    expect(text(byTag(doc, "p")[0]!)).toBe(RTL);
    expect(byTag(doc, "p")[0]!.attribs.dir).toBe("auto");
    // The preview tags carry the same strings as attribute values, never as markup.
    const meta = metaOf(doc);
    expect(meta["og:title"]).toBe(XSS);
    expect(meta["twitter:title"]).toBe(XSS);
    expect(meta["og:description"]).toContain(RTL);
    expect(meta["og:image:alt"]).toBe(`${XSS} on BeatPass`);
  });

  it("links only to BeatPass pages it builds itself", () => {
    const doc = parse(page(trackCard(hostile, undefined, ctx())).html);
    const hrefs = byTag(doc, "a").map((a) => a.attribs.href);
    expect(hrefs).toEqual([
      "https://beatpass.ca/track/61/img-src-x-onerror-alert-1-script-alert-xss-script-style-svg-onload-alert-2",
    ]);
    expect(byTag(doc, "link").map((l) => [l.attribs.rel, l.attribs.type, l.attribs.href])).toEqual([
      ["alternate", "application/json+oembed", "https://edge.example/oembed?url=x&format=json"],
    ]);
  });

  it("renders a track with only id and name, without 'undefined' or 'null', its waveform row a flat line", () => {
    const card = trackCard({ id: 1, name: "Bare" }, undefined, ctx());
    const { html } = page(card);
    expect(html).not.toMatch(/undefined|null|NaN/);
    const doc = parse(html);
    expect(byTag(doc, "ul")).toEqual([]);
    // The waveform row is drawn without a waveform, so the height does not depend on that read.
    expect(byTag(doc, "svg").map((s) => s.attribs.class)).toEqual(["wave"]);
    expect(new Set(byTag(doc, "path")[0]!.attribs.d!.match(/v[0-9.]+/g))).toEqual(new Set(["v1.0"]));
    // 1 + 12 + (title 22 + waveform 8+36) + 12 + 1
    expect(card.height).toBe(1 + 12 + (22 + (8 + 36)) + 12 + 1);
  });

  it("honours hide= and accent=", () => {
    const o = { hide: "price,waveform,artwork,bpm", accent: "#0F0" };
    const track = { ...hostile, image: "https://img.beatpass.ca/a.jpg" };
    const { html, css } = page(trackCard(track, { peaks: [0.5] }, ctx(o)), o);
    const doc = parse(html);
    expect(byTag(doc, "img")).toEqual([]);
    expect(byTag(doc, "svg")).toEqual([]);
    expect(byTag(doc, "li").map((li) => text(li))).not.toContain("$29.99");
    expect(byTag(doc, "li").map((li) => text(li))).not.toContain("140 BPM");
    expect(css).toContain("--accent:#00ff00;");
  });

  it("shows allowlisted https artwork, escaped into the attribute", () => {
    const track = { ...hostile, image: 'https://img.beatpass.ca/a.jpg?x="><script>' };
    const doc = parse(page(trackCard(track, undefined, ctx())).html);
    expect(byTag(doc, "img").map((i) => i.attribs.src)).toEqual(["https://img.beatpass.ca/a.jpg?x=%22%3E%3Cscript%3E"]);
  });

  it("artist, album, playlist and error cards resist the same payloads", () => {
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
    const playlist: Playlist = { id: 6, name: XSS, image: "javascript:alert(1)", tracks: [hostile] };
    const cases: [Card, string][] = [
      [artistCard(artist, ctx()), RTL],
      [collectionCard("album", album, ctx()), XSS],
      [collectionCard("playlist", playlist, ctx()), XSS],
      [errorCard(XSS, XSS, "https://beatpass.ca/track/1/x", ctx()), XSS],
    ];
    for (const [card, shown] of cases) {
      const doc = parse(page(card).html);
      expect(cardUnsafeBits(doc)).toEqual([]);
      expect(byTag(doc, "script")).toHaveLength(1);
      expect(byTag(doc, "img")).toEqual([]);
      expect(text(doc)).toContain(shown);
    }
  });
});

describe("HTML card pages", () => {
  it("with links: Open Graph, a Twitter player of the card's height, and the oEmbed discovery link", () => {
    const card = trackCard(hostile, undefined, ctx());
    const doc = parse(page(card).html);
    expect(metaOf(doc)).toMatchObject({
      "og:type": "music.song",
      "og:url": LINKS.self,
      "og:image": LINKS.image.url,
      "og:image:width": "1200",
      "og:image:height": "630",
      "twitter:card": "player",
      "twitter:player": LINKS.self,
      "twitter:player:width": "480",
      "twitter:player:height": String(card.height),
    });
  });

  it("without links (error cards): no preview tags and no discovery link, but the same one script", () => {
    const doc = parse(page(errorCard("Track unavailable", "Gone.", "https://beatpass.ca", ctx()), {}, null).html);
    expect(byTag(doc, "meta").filter((m) => m.attribs.property || /^twitter:/.test(m.attribs.name ?? ""))).toEqual([]);
    expect(byTag(doc, "link")).toEqual([]);
    expect(byTag(doc, "script").map((s) => text(s))).toEqual([CARD_RESIZE_SCRIPT]);
  });

  it("an error card: heading, the message, and an Open BeatPass link", () => {
    const doc = parse(
      page(
        errorCard(
          "Track unavailable",
          "This track isn't available on BeatPass.",
          "https://beatpass.ca/track/9/x",
          ctx(),
        ),
        {},
        null,
      ).html,
    );
    expect(text(byTag(doc, "h1")[0]!)).toBe("Track unavailable");
    expect(text(doc)).toContain("This track isn't available on BeatPass.");
    expect(byTag(doc, "a").map((a) => [text(a), a.attribs.href, a.attribs.target, a.attribs.rel])).toEqual([
      ["Open BeatPass", "https://beatpass.ca/track/9/x", "_blank", "noopener noreferrer"],
    ]);
  });
});

describe("HTML card heights", () => {
  // From the card design: a 1 px border and padding (12 standard, 8 compact) around a column of
  // fixed rows, never shorter than the artwork (96 / 64). Sums written out, not imported.
  const full: Track = { ...hostile, image: "https://img.beatpass.ca/a.jpg" };
  const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `Song ${i + 1}` }));

  it.each([
    ["standard", {}, 1 + 12 + (22 + 20 + (8 + 22) + (8 + 36)) + 12 + 1],
    ["compact", { size: "compact" }, 1 + 8 + (22 + 20 + (6 + 22) + (6 + 24)) + 8 + 1],
    // Without waveform and facts, the 96 px artwork is taller than title and artists.
    [
      "standard, hide=waveform,price,bpm,key,duration,license",
      { hide: "waveform,price,bpm,key,duration,license" },
      1 + 12 + 96 + 12 + 1,
    ],
    // ...and without the artwork too, the text column alone.
    [
      "standard, also hide=artwork",
      { hide: "waveform,price,bpm,key,duration,license,artwork" },
      1 + 12 + (22 + 20) + 12 + 1,
    ],
  ])("a track card, %s, is as tall as its rows add up to", (_name, q, height) => {
    expect(trackCard(full, { peaks: [0.5] }, ctx(q as Record<string, string>)).height).toBe(height);
  });

  it("the height does not depend on the text: a 2000-character title or a missing waveform", () => {
    const base = trackCard(full, { peaks: [0.5] }, ctx()).height;
    expect(trackCard({ ...full, name: "W".repeat(2000) }, { peaks: [0.5] }, ctx()).height).toBe(base);
    expect(trackCard(full, undefined, ctx()).height).toBe(base);
    expect(trackCard({ ...full, artists: [{ id: 1, name: RTL.repeat(50) }] }, undefined, ctx()).height).toBe(base);
  });

  it.each([
    ["standard", {}, 1 + 12 + (22 + 20 + (8 + 8 * 25) + (6 + 18)) + 12 + 1],
    ["compact", { size: "compact" }, 1 + 8 + (22 + 20 + (6 + 3 * 25) + (4 + 18)) + 8 + 1],
    ["compact, hide=tracks", { size: "compact", hide: "tracks" }, 1 + 8 + 64 + 8 + 1],
  ])("a playlist of 23 tracks (20 at hand), %s, is as tall as its rows add up to", (_name, q, height) => {
    const playlist: Playlist = {
      id: 6,
      name: "P",
      image: "https://beatpass.ca/p.jpg",
      tracks: items(20),
      tracks_total: 23,
    };
    expect(collectionCard("playlist", playlist, ctx(q as Record<string, string>)).height).toBe(height);
  });

  /** CARD_CSS's declarations by selector (grouped selectors split; the narrow-frame @media rules left out). */
  const cssRules = (css: string) => {
    const out: Record<string, Record<string, string>> = {};
    const outsideMedia = css.replace(/@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\}/g, "");
    for (const [, selectors, body] of outsideMedia.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
      for (const selector of selectors!.split(",")) {
        const rule = out[selector.trim()] ?? {};
        out[selector.trim()] = rule;
        for (const decl of body!.split(";")) {
          const colon = decl.indexOf(":");
          if (colon > 0) rule[decl.slice(0, colon).trim()] = decl.slice(colon + 1).trim();
        }
      }
    }
    return out;
  };

  it("the stylesheet draws every row at the height these sums count", () => {
    const r = cssRules(CARD_CSS);
    // border-box: a row's height includes its padding and border (a list row's 1 px rule).
    expect(r["*"]).toMatchObject({ "box-sizing": "border-box" });
    expect(r[".card"]).toMatchObject({ padding: "12px", border: "1px solid var(--border)" });
    expect(r[".art"]).toMatchObject({ width: "96px", height: "96px" });
    expect(r[".has-art .meta"]).toMatchObject({ "min-height": "96px" });
    expect(r[".title"]).toMatchObject({ margin: "0", height: "22px" });
    expect(r[".sub"]).toMatchObject({ margin: "0", height: "20px" });
    expect(r[".facts"]).toMatchObject({ margin: "0", height: "30px", padding: "8px 0 0" });
    expect(r[".facts li"]).toMatchObject({ height: "22px" });
    expect(r[".wave"]).toMatchObject({ height: "36px", "margin-top": "8px" });
    expect(r[".list"]).toMatchObject({ margin: "8px 0 0" });
    expect(r[".list li"]).toMatchObject({ height: "25px" });
    expect(r[".more"]).toMatchObject({ margin: "6px 0 0", height: "18px" });
    expect(r[".msg"]).toMatchObject({ margin: "0", height: "40px" });
    expect(r[".compact .card"]).toMatchObject({ padding: "8px" });
    expect(r[".compact .art"]).toMatchObject({ width: "64px", height: "64px" });
    expect(r[".compact .has-art .meta"]).toMatchObject({ "min-height": "64px" });
    expect(r[".compact .facts"]).toMatchObject({ height: "28px", "padding-top": "6px" });
    expect(r[".compact .wave"]).toMatchObject({ height: "24px", "margin-top": "6px" });
    expect(r[".compact .list"]).toMatchObject({ "margin-top": "6px" });
    expect(r[".compact .more"]).toMatchObject({ "margin-top": "4px" });
  });

  it("an error card is title, two lines of message and the link", () => {
    const card = (q: Record<string, string>) => errorCard("H", "M", "https://beatpass.ca", ctx(q)).height;
    expect(card({})).toBe(1 + 12 + (22 + 2 * 20 + (6 + 18)) + 12 + 1);
    expect(card({ size: "compact" })).toBe(1 + 8 + (22 + 2 * 20 + (4 + 18)) + 8 + 1);
  });
});

describe("track counts and the rest of a list", () => {
  const summaries = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `Song ${i + 1}` }));
  const moreOf = (card: Card) => {
    const doc = parse(page(card).html);
    const p = byTag(doc, "p").find((el) => el.attribs.class === "more");
    return {
      sub: text(byTag(doc, "p").find((el) => el.attribs.class === "sub")!),
      rows: byTag(doc, "ol")[0]?.children.filter((n) => "name" in n).length ?? 0,
      more: p ? text(p) : undefined,
    };
  };

  it("compact lists show three tracks and link to the rest", () => {
    const album: Album = { id: 5, name: "Pack", tracks: summaries(12) };
    expect(moreOf(collectionCard("playlist", album, ctx({ size: "compact" })))).toEqual({
      sub: "12 tracks",
      rows: 3,
      more: "9 more on BeatPass",
    });
  });

  it("counts BeatPass's total, not the page at hand", () => {
    const album: Album = {
      id: 5,
      name: "Pack",
      artists: [{ id: 1, name: "A" }],
      tracks: summaries(12),
      tracks_total: 30,
    };
    expect(moreOf(collectionCard("album", album, ctx()))).toEqual({
      sub: "A · 30 tracks",
      rows: 8,
      more: "22 more on BeatPass",
    });
  });

  it("a total below the tracks at hand is not believed; a list that fits has no 'more' line", () => {
    const small: Playlist = { id: 5, name: "P", tracks: summaries(12), tracks_total: 5 };
    expect(moreOf(collectionCard("playlist", small, ctx()))).toMatchObject({
      sub: "12 tracks",
      more: "4 more on BeatPass",
    });
    const fits: Playlist = { id: 5, name: "P", tracks: summaries(8), tracks_total: 8 };
    expect(moreOf(collectionCard("playlist", fits, ctx()))).toEqual({ sub: "8 tracks", rows: 8, more: undefined });
    const one: Playlist = { id: 5, name: "P", tracks: summaries(1) };
    expect(moreOf(collectionCard("playlist", one, ctx())).sub).toBe("1 track");
  });

  it("the SVG card says the total too", () => {
    const playlist: Playlist = { id: 6, name: "P", tracks: summaries(20), tracks_total: 23 };
    const doc = parse(collectionSvg("playlist", playlist, undefined, opts(), { fonts: false }), true);
    expect(text(doc)).toContain("23 tracks");
    expect(text(doc)).toContain("Playlist");
  });
});

describe("SVG cards with hostile data", () => {
  const art = "data:image/png;base64,iVBORw0KGgo=";
  const R: SvgRender = { fonts: false };

  it("are well-formed XML with no script, handler or external reference", () => {
    for (const r of [R, { fonts: true }, { fonts: false, canvas: { width: 1200, height: 630 } }] as SvgRender[]) {
      for (const svg of [
        trackSvg({ ...hostile, name: `${XSS}${CONTROLS}` }, { peaks: [0.2, 0.8] }, art, opts(), r),
        artistSvg({ id: 13, name: RTL, verified: true, top_tracks: [hostile] }, art, opts({ theme: "dark" }), r),
        collectionSvg(
          "album",
          { id: 5, name: XSS, artists: [{ id: 1, name: RTL }], release_date: XSS },
          undefined,
          opts({ size: "compact" }),
          r,
        ),
        collectionSvg("playlist", { id: 6, name: XSS, tracks: [hostile] }, art, opts(), r),
        errorSvg(XSS, `${XSS} ${RTL} ${CONTROLS}`, opts(), r),
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
        // The only url()s: the artwork's clip path (a fragment) and, when embedded, the font as data:.
        for (const [, u] of svg.matchAll(/url\(([^)]*)\)/g)) expect(u).toMatch(/^(#art$|data:font\/woff2;base64,)/);
        // Escaped markup survives as text; raw markup would have become elements.
        expect(byTag(doc, "img")).toEqual([]);
        expect(byTag(doc, "b")).toEqual([]);
      }
    }
  });

  it("svgCard writes every text input as text, without characters XML forbids", () => {
    const bad = (label: string) => `${label}<b x="1">&amp;'${CONTROLS}`;
    const shown = (label: string) => `${label}<b x="1">&amp;'`;
    const svg = svgCard(
      { title: bad("T"), subtitle: bad("S"), facts: [bad("F1"), bad("F2")], price: bad("P"), peaks: [0.5] },
      opts(),
      R,
    );
    expect(svg).not.toMatch(XML_FORBIDDEN);
    const doc = parse(svg, true);
    expect(unsafeBits(doc)).toEqual([]);
    expect(byTag(doc, "b")).toEqual([]);
    const texts = byTag(doc, "text").map((t) => text(t));
    expect(texts.slice(0, 3)).toEqual([shown("T"), shown("S"), shown("P")]);
    // The facts share one line beside the price chip: whole, or cut short with "…" where it ends.
    const facts = `${shown("F1")} · ${shown("F2")}`;
    expect(texts[3]).toContain(shown("F1"));
    if (texts[3] !== facts) expect(facts.startsWith(texts[3]!.slice(0, -1)) && texts[3]!.endsWith("…")).toBe(true);
    const label = `${shown("T")} — ${shown("S")}`;
    expect(byTag(doc, "svg")[0]!.attribs["aria-label"]).toBe(label);
    expect(text(byTag(doc, "title")[0]!)).toBe(label);
  });

  it("keeps the title as text, shortened by whole characters without splitting emoji", () => {
    const long = "🎹".repeat(80);
    const doc = parse(
      trackSvg({ id: 1, name: long, artists: [{ id: 2, name: RTL }] }, undefined, undefined, opts(), R),
      true,
    );
    const title = text(byTag(doc, "text")[0]!);
    expect(title.endsWith("…")).toBe(true);
    expect([...title.slice(0, -1)].every((ch) => ch === "🎹")).toBe(true);
    expect(text(byTag(doc, "text")[1]!)).toBe(RTL);
    // The accessible name keeps the whole title.
    expect(byTag(doc, "svg")[0]!.attribs["aria-label"]).toContain(long);
  });

  it("embeds the artwork only as a data URI and only when given", () => {
    const withArt = parse(trackSvg(hostile, undefined, art, opts(), R), true);
    expect(byTag(withArt, "image").map((i) => i.attribs.href)).toEqual([art]);
    expect(byTag(parse(trackSvg(hostile, undefined, undefined, opts(), R), true), "image")).toEqual([]);
    expect(byTag(parse(trackSvg(hostile, undefined, art, opts({ hide: "artwork" }), R), true), "image")).toEqual([]);
  });

  it("themes: auto carries a prefers-color-scheme rule, light and dark do not", () => {
    expect(trackSvg(hostile, undefined, undefined, opts(), R)).toContain("prefers-color-scheme:dark");
    expect(trackSvg(hostile, undefined, undefined, opts({ theme: "dark" }), R)).not.toContain("prefers-color-scheme");
  });
});

describe("SVG card drawing", () => {
  const R: SvgRender = { fonts: false };
  const titleOf = (svg: string) => text(byTag(parse(svg, true), "text")[0]!);

  it("is 480 x 136 (standard) or 400 x 88 (compact)", () => {
    for (const [q, w, h] of [
      [{}, 480, 136],
      [{ size: "compact" }, 400, 88],
    ] as const) {
      const root = byTag(parse(trackSvg(hostile, undefined, undefined, opts(q), R), true), "svg")[0]!;
      expect([root.attribs.width, root.attribs.height, root.attribs.viewBox]).toEqual([
        String(w),
        String(h),
        `0 0 ${w} ${h}`,
      ]);
    }
  });

  it("embeds Inter as two data: fonts for browsers, and none for the rasteriser (which has the font)", () => {
    const withFonts = trackSvg(hostile, undefined, undefined, opts(), { fonts: true });
    const faces = [
      ...withFonts.matchAll(
        /@font-face\{font-family:Inter;font-weight:(\d+);src:url\(data:font\/woff2;base64,[A-Za-z0-9+/=]+\)/g,
      ),
    ];
    expect(faces.map((f) => f[1])).toEqual(["400", "600"]);
    expect(trackSvg(hostile, undefined, undefined, opts(), R)).not.toContain("@font-face");
  });

  it("on a canvas (link previews) it is the canvas's size, with the card's aspect kept", () => {
    const svg = trackSvg(hostile, undefined, undefined, opts(), { fonts: false, canvas: { width: 1200, height: 630 } });
    const root = byTag(parse(svg, true), "svg")[0]!;
    expect([root.attribs.width, root.attribs.height]).toEqual(["1200", "630"]);
    const [, , vw, vh] = root.attribs.viewBox!.split(" ").map(Number);
    // The viewBox has the canvas's aspect (so nothing is stretched) and contains the whole card.
    expect(vw! / vh!).toBeCloseTo(1200 / 630, 3);
    expect(vw).toBeGreaterThanOrEqual(480);
    expect(vh).toBeGreaterThanOrEqual(136);
  });

  it("shortens a line only when it does not fit: 60 narrow letters fit where 60 wide ones do not", () => {
    const narrow = "i".repeat(60);
    const wide = "W".repeat(60);
    expect(titleOf(trackSvg({ id: 1, name: narrow }, undefined, undefined, opts(), R))).toBe(narrow);
    const cut = titleOf(trackSvg({ id: 1, name: wide }, undefined, undefined, opts(), R));
    expect(cut).toMatch(/^W+…$/);
    expect(cut.length).toBeLessThan(wide.length);
    // A short title is never shortened.
    expect(titleOf(trackSvg({ id: 1, name: "Zoom" }, undefined, undefined, opts(), R))).toBe("Zoom");
  });

  it("draws the verified mark as a disc with a check, not a character", () => {
    const artist: Artist = { id: 3, name: "Lumen Loops", verified: true };
    const doc = parse(artistSvg(artist, undefined, opts(), R), true);
    expect(text(doc)).not.toMatch(/[✔✓]/);
    const marks = byTag(doc, "g").filter((g) => byTag(g, "circle").length === 1 && byTag(g, "path").length === 1);
    expect(marks).toHaveLength(1);
    expect(byTag(doc, "svg")[0]!.attribs["aria-label"]).toBe("Lumen Loops, verified");
    expect(byTag(parse(artistSvg(artist, undefined, opts({ hide: "badge" }), R), true), "circle")).toEqual([]);
    expect(byTag(parse(artistSvg({ ...artist, verified: false }, undefined, opts(), R), true), "circle")).toEqual([]);
  });

  it.each([
    ["2025-11-20", "Nov 20, 2025"],
    ["2025-05-01T10:00:00.000000Z", "May 1, 2025"],
    ["2024-02-29", "Feb 29, 2024"],
    ["2025-02-31", undefined],
    ["20 Nov 2025", undefined],
    [XSS, undefined],
  ])("an album released %j shows %j", (release_date, shown) => {
    const album: Album = { id: 1, name: "A", release_date, tracks: [{ id: 1, name: "t" }] };
    const facts = byTag(parse(collectionSvg("album", album, undefined, opts(), R), true), "text").map((t) => text(t));
    expect(facts).toContain(shown ? `1 track · ${shown}` : "1 track");
  });

  it("an error image wraps its message onto two lines, the second shortened if need be", () => {
    const short = byTag(
      parse(errorSvg("Track unavailable", "This track isn't available on BeatPass.", opts(), R), true),
      "text",
    );
    expect(short.map((t) => text(t))).toEqual(["Track unavailable", "This track isn't available on BeatPass."]);
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
    const long = byTag(parse(errorSvg("Heading", words, opts(), R), true), "text").map((t) => text(t));
    expect(long).toHaveLength(3);
    expect(words.startsWith(long[1]!)).toBe(true);
    expect(long[2]!.endsWith("…")).toBe(true);
    expect(words).toContain(long[2]!.slice(0, -1).trim());
  });
});

describe("fitText", () => {
  it("keeps a line that fits, else the longest prefix that fits with its '…', never wider than the room", () => {
    const lines = ["W".repeat(60), "i".repeat(200), "Midnight-Run-Remix-2025", "🎹".repeat(40), "مُنتِج-الإيقاع"];
    for (const [px, weight] of [
      [17, 600],
      [12, 400],
    ] as const) {
      for (const max of [40, 97.5, 180, 333]) {
        for (const line of lines) {
          const out = fitText(line, max, px, weight);
          const what = `${line} in ${max} px at ${px}/${weight}: ${out}`;
          expect(textWidth(out, px, weight), what).toBeLessThanOrEqual(max + 1e-9);
          if (out === line) continue;
          expect(out.endsWith("…"), what).toBe(true);
          const kept = [...out.slice(0, -1)];
          expect(line.startsWith(kept.join("")), what).toBe(true);
          // One more character and the "…" would not have fitted.
          const longer = [...line].slice(0, kept.length + 1).join("");
          expect(textWidth(`${longer}…`, px, weight), what).toBeGreaterThan(max);
        }
      }
    }
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
