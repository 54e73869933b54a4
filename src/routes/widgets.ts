import { type Context, Hono } from "hono";
import type { Served } from "../cache/engine";
import { etagFor } from "../cache/entry";
import { cacheTags } from "../cache/purge";
import { identifyClient } from "../clients/limits";
import { type AppEnv, type Config, requireConfig } from "../env";
import { ApiError } from "../errors";
import { readOnly } from "../http/methods";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { sha256Base64 } from "../lib/hash";
import { memo } from "../lib/memo-budget";
import { type Card, errorCard } from "../render/html-card";
import { DEFAULT_WIDTH } from "../render/layout";
import { htmlPage, type PageLinks, RESIZE_SCRIPT } from "../render/page";
import { OG_IMAGE, type PngLayout, rasterise, svgForPng } from "../render/png";
import { errorSvg } from "../render/svg-card";
import { CARD_CSS, themeCss } from "../render/theme";
import { beatpassPageUrl, cspSources, type EntityKind } from "../render/urls";
import { idParamsSchema } from "../schemas/requests";
import { optionsKey, optionsQuery, pngQuerySchema } from "../schemas/widget";
import { artwork, type CardView, isKind, type LoadContext, loadCard, widgetOptions } from "./card-data";
import { tierDeps } from "./deps";
import { viewerError } from "./widget-failure";

/**
 * Embeddable cards: /widget/<kind>/<id> is an HTML document for an iframe,
 * /widget/<kind>/<id>.svg an image for <img> tags and READMEs, and .png the same image as a
 * raster for link previews and e-mail (which show no SVG). Rendering is a pure function of
 * the data (card-data.ts) and the options, so the ETag is computed from the data's ETags and
 * the options alone, and a 304 renders nothing.
 */

type Format = "html" | "svg" | "png";

/** Bump when the markup changes, so browsers do not keep a 304 for an old design. */
const RENDER_VERSION = "2";

const FILE = /^(.*?)(?:\.(svg|png))?$/;

export function widgetRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/widget/:kind/:file", async (c) => {
    const kind = c.req.param("kind");
    const m = FILE.exec(c.req.param("file"));
    const format = (m?.[2] ?? "html") as Format;
    if (!isKind(kind)) throw new ApiError("not_found", "There is no such widget.");
    const { id } = validate("path", idParamsSchema, { id: m?.[1] ?? "" });
    const options = widgetOptions(c.req.query());
    const png = format === "png" ? validate("query", pngQuerySchema, c.req.query()) : undefined;
    const layout: PngLayout = png?.layout ?? "og";
    const width = png?.width;
    const config = requireConfig(c.env);
    const page = beatpassPageUrl(kind, id, "");
    try {
      const client = await identifyClient(c, false);
      c.set("client", client);
      const l: LoadContext = {
        config,
        env: c.env,
        deps: tierDeps(c.env, c.executionCtx, config, client, c.get("trace")),
        options,
        trace: c.get("trace"),
        client,
      };
      return await respond(c, { kind, id, format, layout, width }, await loadCard(kind, id, l), l);
    } catch (err) {
      // Without a rasteriser a PNG error card cannot be drawn either: say so once, plainly.
      if (err instanceof ApiError && err.code === "raster_unavailable") throw err;
      const e = viewerError(err, kind, page, c.get("requestId"));
      const tags = cacheTags(kind, { id: String(id) });
      const headers: Record<string, string> = {
        ...(await widgetHeaders(format, config, options)),
        "Cache-Control": e.cacheControl,
        "Cache-Tag": tags.join(","),
        "X-Problem-Code": e.code,
      };
      const ctx = { options, imageHosts: config.imageHosts };
      if (format === "svg") return send(c, errorSvg(e.heading, e.message, options, { fonts: true }), 200, headers);
      if (format === "png") {
        const svg = errorSvg(e.heading, e.message, options, svgForPng(layout, options.size, width));
        return send(c, await rasterise(c.env.RASTER, svg), 200, headers);
      }
      const card = errorCard(e.heading, e.message, e.href, ctx);
      return send(c, htmlPage(card, themeCss(options) + CARD_CSS, options.size), 200, headers);
    }
  });
  readOnly(app, "/widget/:kind/:file");
  return app;
}

interface Target {
  kind: EntityKind;
  id: number;
  format: Format;
  layout: PngLayout;
  /** A link preview's width, when not the full 1200. */
  width: number | undefined;
}

async function respond(c: Context<AppEnv>, t: Target, view: CardView, l: LoadContext): Promise<Response> {
  const art = t.format === "html" ? undefined : await artwork(view.artUrl, l);
  const origin = new URL(c.req.url).origin;
  // Everything the output depends on; the same input always renders the same bytes.
  const input = [
    RENDER_VERSION,
    origin,
    t.kind,
    t.format,
    t.format === "png" ? `${t.layout}:${t.width ?? ""}` : "",
    optionsKey(l.options),
    ...view.etagParts,
    art?.etag ?? "-",
    // Config the card depends on: its CSP, and which artwork it may show.
    l.config.frameAncestors,
    l.config.imageHosts.join(","),
  ].join("|");
  let rendered = renderMemo.get(input);
  if (!rendered) {
    rendered = { etag: await etagFor(input) };
    renderMemo.set(input, rendered);
  }
  const served: Served = { ...view.primary, entry: { ...view.primary.entry, etag: rendered.etag } };
  const headers = {
    ...cacheHeaders(served, view.policy, cacheTags(t.kind, { id: String(t.id) })),
    ...(await widgetHeaders(t.format, l.config, l.options)),
  };
  if (matchesEtag(c.req.header("If-None-Match"), rendered.etag)) return send(c, null, 304, headers);
  if (!rendered.body) {
    rendered.body = await render(origin, t, view, l, art?.dataUri);
    // Counted afresh now that it holds the body (a card too large for the budget is dropped).
    renderMemo.set(input, rendered);
  }
  return send(c, rendered.body, 200, headers);
}

/**
 * Rendered cards by their inputs (normalized options, data ETags, config; never the URL): a
 * hot card is rendered once, not once per view. An entry holds the ETag until the card is
 * first sent in full, then the body too (an SVG card inlines its artwork; a PNG is bytes).
 */
type Rendered = { etag: string; body?: string | Uint8Array };
const renderMemo = memo<Rendered>("cards", {
  sizeOf: (r) =>
    SMALL_OBJECT_BYTES +
    stringBytes(r.etag) +
    (typeof r.body === "string" ? stringBytes(r.body) : (r.body?.byteLength ?? 0)),
});

async function render(
  origin: string,
  t: Target,
  view: CardView,
  l: LoadContext,
  artDataUri: string | undefined,
): Promise<string | Uint8Array> {
  if (t.format === "svg") return view.svg(artDataUri, { fonts: true });
  if (t.format === "png")
    return rasterise(l.env.RASTER, view.svg(artDataUri, svgForPng(t.layout, l.options.size, t.width)));
  const card = view.html();
  return htmlPage(card, themeCss(l.options) + CARD_CSS, l.options.size, pageLinks(origin, t, card, l));
}

function pageLinks(origin: string, t: Target, card: Card, l: LoadContext): PageLinks {
  const query = optionsQuery(l.options);
  const extra = query ? `&${query.slice(1)}` : "";
  const pageUrl = beatpassPageUrl(t.kind, t.id, card.title);
  return {
    kind: t.kind,
    self: `${origin}/widget/${t.kind}/${t.id}${query}`,
    oembed: `${origin}/oembed?url=${encodeURIComponent(pageUrl)}&format=json${extra}`,
    image: { url: `${origin}/widget/${t.kind}/${t.id}.png${query}`, ...OG_IMAGE },
    width: DEFAULT_WIDTH,
  };
}

async function widgetHeaders(
  format: Format,
  config: Config,
  options: LoadContext["options"],
): Promise<Record<string, string>> {
  if (format === "png") return { "Content-Type": "image/png", "Cross-Origin-Resource-Policy": "cross-origin" };
  if (format === "svg") {
    return {
      "Content-Type": "image/svg+xml; charset=utf-8",
      // Opened directly, an SVG is a document: forbid everything it does not need.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:",
      "Cross-Origin-Resource-Policy": "cross-origin",
    };
  }
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": await htmlCsp(themeCss(options), config),
  };
}

// Keyed by the theme's part of the stylesheet only: CARD_CSS is the same for every card.
const cspHashes = memo<string>("csp-hashes", { sizeOf: (hash) => stringBytes(hash) });
let scriptHash: string | undefined;

/**
 * CSP for a card: only its own <style> and resize script (by hash), images from the
 * allowlist, framing per config. `theme` is themeCss(options); the <style> holds it followed
 * by CARD_CSS.
 */
async function htmlCsp(theme: string, config: Config): Promise<string> {
  let hash = cspHashes.get(theme);
  if (!hash) {
    hash = await sha256Base64(theme + CARD_CSS);
    cspHashes.set(theme, hash);
  }
  scriptHash ??= await sha256Base64(RESIZE_SCRIPT);
  return [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    `script-src 'sha256-${scriptHash}'`,
    `img-src ${cspSources(config.imageHosts)} data:`,
    `frame-ancestors ${config.frameAncestors}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}
