import { describe, expect, it } from "vitest";
import { z } from "zod";
import { XSS_NAME } from "../../fake/catalog.mjs";
import { sha256Base64 } from "../../src/lib/hash";
import { byTag, parse, text, unsafeBits } from "../helpers/dom";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

function expectEmbedHeaders(res: Awaited<ReturnType<typeof call>>) {
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
  expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d+/);
  expect(res.headers.get("X-Frame-Options")).toBeNull();
  expect(res.headers.get("Content-Security-Policy")).toMatch(/^default-src 'none';/);
}

describe("HTML widgets", () => {
  it.each([
    ["/widget/track/1", "Midnight Run"],
    ["/widget/artist/3", "Lumen Loops"],
    ["/widget/album/1", "Night Drive Pack"],
    ["/widget/playlist/1", "Late Night Trap"],
  ])("%s renders a card with CSP, nosniff, ETag and caching", async (path, name) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expectEmbedHeaders(res);
    const doc = parse(res.text);
    expect(text(byTag(doc, "h1")[0]!)).toContain(name);
    // The CSP allows exactly the card's own stylesheet, by hash.
    const style = text(byTag(doc, "style")[0]!);
    const csp = res.headers.get("Content-Security-Policy")!;
    expect(csp).toContain(`style-src 'sha256-${await sha256Base64(style)}'`);
    expect(csp).toContain("frame-ancestors *");
    expect(csp).toContain("img-src https://fake-beatpass.test https://beatpass.ca https://*.beatpass.ca data:");
    const oembed = byTag(doc, "link").find((l) => l.attribs.type === "application/json+oembed");
    expect(oembed?.attribs.href).toMatch(/^https:\/\/proxy\.test\/oembed\?url=https%3A%2F%2Fbeatpass\.ca%2F/);
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

  it("shows a hostile track's name as text and runs none of it", async () => {
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

  it("frame-ancestors follows FRAME_ANCESTORS; a bad value is a config error", async () => {
    const res = await call("/widget/track/1", {}, { FRAME_ANCESTORS: "https://blog.example 'self'" });
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors https://blog.example 'self'");
    expectProblem(await call("/widget/track/1", {}, { FRAME_ANCESTORS: "javascript:x" }), 503, "config_error");
  });
});

describe("SVG widgets", () => {
  it.each(["/widget/track/1.svg", "/widget/artist/3.svg", "/widget/album/1.svg"])(
    "%s is a self-contained image with inlined artwork",
    async (path) => {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("image/svg+xml; charset=utf-8");
      expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
      expectEmbedHeaders(res);
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

  it("leaves artwork out when the image fails or is too large", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/images/" });
    const res = await call("/widget/track/5.svg");
    expect(res.status).toBe(200);
    expect(byTag(parse(res.text, true), "image")).toEqual([]);
  });

  it("playlists have no SVG card", async () => {
    expectProblem(await call("/widget/playlist/1.svg"), 404, "not_found");
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
    const doc = parse(res.text, path.endsWith(".svg"));
    expect(unsafeBits(doc)).toEqual([]);
    expect(text(doc)).toContain(message);
    expect(text(doc)).toContain(code);
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

  it.each([
    ["https://beatpass.ca/track/1/midnight-run", "track", 1],
    ["https://www.beatpass.ca/artist/3", "artist", 3],
    ["https://beatpass.ca/album/1/night-drive-pack/embed", "album", 1],
    ["https://beatpass.ca/playlist/2/study-loops", "playlist", 2],
  ])("%s -> a rich response framing /widget/%s/%i", async (page, kind, id) => {
    const res = await call(url(page, "&format=json"));
    expect(res.status).toBe(200);
    const body = oembedSchema.parse(res.json());
    const iframe = byTag(parse(body.html), "iframe")[0]!;
    expect(iframe.attribs.src).toBe(`https://proxy.test/widget/${kind}/${id}`);
    expect(Number(iframe.attribs.width)).toBe(body.width);
    expect(Number(iframe.attribs.height)).toBe(body.height);
  });

  it("respects maxwidth and maxheight, switching to the compact card", async () => {
    const body = oembedSchema.parse(
      (await call(url("https://beatpass.ca/track/1", "&maxwidth=320&maxheight=150"))).json(),
    );
    expect(body.width).toBe(320);
    expect(body.height).toBeLessThanOrEqual(150);
    expect(byTag(parse(body.html), "iframe")[0]!.attribs.src).toBe("https://proxy.test/widget/track/1?size=compact");
  });

  it("gives each size its own ETag and answers If-None-Match with 304", async () => {
    const wide = await call(url("https://beatpass.ca/track/1"));
    const narrow = await call(url("https://beatpass.ca/track/1", "&maxwidth=300"));
    expect(wide.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
    expect(narrow.headers.get("ETag")).not.toBe(wide.headers.get("ETag"));
    const again = await call(url("https://beatpass.ca/track/1"), {
      headers: { "If-None-Match": wide.headers.get("ETag")! },
    });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
  });

  it("escapes the title inside the iframe html", async () => {
    const body = oembedSchema.parse((await call(url("https://beatpass.ca/track/61"))).json());
    expect(unsafeBits(parse(body.html)).filter((b) => b !== "<iframe>")).toEqual([]);
    expect(byTag(parse(body.html), "iframe")[0]!.attribs.title).toBe(`${XSS_NAME} on BeatPass`);
  });

  it.each([
    "https://evil.example/track/1",
    "http://beatpass.ca/track/1",
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

  it("501 for format=xml, 400 without url", async () => {
    expectProblem(await call(url("https://beatpass.ca/track/1", "&format=xml")), 501, "unsupported_format");
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
