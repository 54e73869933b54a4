import type { Context } from "hono";
import type { Served } from "../cache/engine";
import { etagFor } from "../cache/entry";
import { cacheTags } from "../cache/purge";
import { identifyClient } from "../clients/limits";
import { admitRender, pauseRefusal } from "../clients/render-budget";
import { type AppEnv, type Config, requireConfig } from "../env";
import { ApiError } from "../errors";
import { feedFor } from "../feeds/links";
import { originOf } from "../http/origin";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { secondRequestMemo } from "../lib/memo-budget";
import type { Client } from "../lib/trace";
import { type Card, errorCard } from "../render/html-card";
import { DEFAULT_WIDTH } from "../render/layout";
import { htmlPage, type PageLinks } from "../render/page";
import { OG_IMAGE, type PngLayout, rasterise, snapPngWidth, svgForPng } from "../render/png";
import { errorSvg } from "../render/svg-card";
import { CARD_CSS, themeCss } from "../render/theme";
import { beatpassPageUrl, type EntityKind } from "../render/urls";
import { idParamsSchema } from "../schemas/requests";
import { optionsKey, optionsQuery, pngQuerySchema, type WidgetOptions } from "../schemas/widget";
import { artwork, type CardView, isKind, type LoadContext, loadCard, widgetOptions } from "./card-data";
import { tierDeps } from "./deps";
import { type ViewerError, viewerError } from "./widget-failure";
import { type Format, widgetHeaders } from "./widget-headers";

/**
 * Embeddable cards: /widget/<kind>/<id> is an HTML document for an iframe,
 * /widget/<kind>/<id>.svg an image for <img> tags and READMEs, and .png the same image as a
 * raster for link previews and e-mail (which show no SVG). Rendering is a pure function of
 * the data (card-data.ts) and the options, so the ETag is computed from the data's ETags and
 * the options alone, and a 304 renders nothing. Drawing is what a card costs (a PNG ~37 ms of
 * CPU, against ~2 ms from the memo): an SVG or PNG card, or error card, that no memo holds is
 * charged to its client's render budget before it is drawn (clients/render-budget.ts); memo
 * hits and 304s are free, and HTML cards cost about what serving them does.
 */

/** Bump when the markup changes, so browsers do not keep a 304 for an old design. */
const RENDER_VERSION = "3";

const FILE = /^(.*?)(?:\.(svg|png))?$/;

/** GET /widget/:kind/:file (registered in routes/cards.ts, which imports this module when first asked). */
export async function serveWidget(c: Context<AppEnv, "/widget/:kind/:file">): Promise<Response> {
  const kind = c.req.param("kind");
  const m = FILE.exec(c.req.param("file"));
  const format = (m?.[2] ?? "html") as Format;
  if (!isKind(kind)) throw new ApiError("not_found", "There is no such widget.");
  const { id } = validate("path", idParamsSchema, { id: m?.[1] ?? "" });
  const options = widgetOptions(c.req.query());
  const png = format === "png" ? validate("query", pngQuerySchema, c.req.query()) : undefined;
  const layout: PngLayout = png?.layout ?? "og";
  // A few drawn widths (render/png.ts), so random widths are not each a new image.
  const target: Target = { kind, id, format, layout, width: snapPngWidth(png?.width) };
  const config = requireConfig(c.env);
  let client: Client | undefined;
  try {
    client = await identifyClient(c, false);
    c.set("client", client);
    const l: LoadContext = {
      config,
      env: c.env,
      deps: tierDeps(c.env, c.executionCtx, config, client, c.get("trace")),
      options,
      trace: c.get("trace"),
      client,
    };
    return await respond(c, target, await loadCard(kind, id, l), l);
  } catch (err) {
    // Without a rasteriser a PNG error card cannot be drawn either: say so once, plainly.
    if (err instanceof ApiError && err.code === "raster_unavailable") throw err;
    return await failure(c, err, target, options, config, client);
  }
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
  const origin = originOf(c.req.url);
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
  const held = renderMemo.get(input);
  const etag = held?.etag ?? (await etagFor(input));
  const served: Served = { ...view.primary, entry: { ...view.primary.entry, etag } };
  const headers = {
    ...cacheHeaders(served, view.policy, cacheTags(t.kind, { id: String(t.id) }).join(",")),
    ...(await widgetHeaders(t.format, l.config, l.options)),
  };
  // A 304 draws nothing, so it costs nothing and stores nothing.
  if (matchesEtag(c.req.header("If-None-Match"), etag)) return send(c, null, 304, headers);
  if (held) return send(c, held.body, 200, headers);
  // Drawn afresh: charged to the client (429 render_budget past its budget) before drawing.
  if (t.format !== "html") await admitRender(l.env, l.client);
  const body = await render(origin, t, view, l, art?.dataUri);
  renderMemo.set(input, { etag, body });
  return send(c, body, 200, headers);
}

/**
 * Rendered cards by their inputs (normalized options, data ETags, config; never the URL), and
 * error cards by what they show: a hot card is rendered once, not once per view. A new entry
 * waits in probation until its second request (lib/doorkeeper.ts), so random options, each
 * asked for once, churn probation only and never push out the cards viewers keep asking for.
 * An entry holds the ETag and the body (an SVG card inlines its artwork; a PNG is bytes).
 */
type Rendered = { etag: string; body: string | Uint8Array };
const renderMemo = secondRequestMemo<Rendered>("cards", {
  probationBytes: 2 * 1024 * 1024,
  // 16 KiB: two generations of 4,096 keys, under 1% false positives (lib/doorkeeper.ts).
  doorkeeperBits: 65_536,
  doorkeeperCapacity: 4096,
  sizeOf: (r) =>
    SMALL_OBJECT_BYTES + stringBytes(r.etag) + (typeof r.body === "string" ? stringBytes(r.body) : r.body.byteLength),
});

/**
 * The error card for `err`, in the card's format. Error cards are drawn in the house colours
 * (no accent, nothing hidden) and kept in the card memo by what they show, so random options
 * or ids do not make new ones: a kind's few messages in each theme, size and drawn size. One
 * not yet held is a render like any other, charged to the client, unless it is about the
 * client itself (it could not be identified, or is past a budget): those are fewer still.
 */
async function failure(
  c: Context<AppEnv>,
  err: unknown,
  t: Target,
  options: WidgetOptions,
  config: Config,
  client: Client | undefined,
): Promise<Response> {
  const e = viewerError(err, t.kind, beatpassPageUrl(t.kind, t.id, ""), c.get("requestId"));
  const refused = err instanceof ApiError && err.code === "render_budget" ? err : undefined;
  if (refused) await pauseRefusal();
  if (refused && asksForJson(c.req.header("Accept"), t.format)) throw refused;
  const looks: WidgetOptions = { theme: options.theme, size: options.size, accent: undefined, hide: new Set() };
  const key = [
    "error",
    RENDER_VERSION,
    t.format,
    t.format === "png" ? `${t.layout}:${t.width ?? ""}` : "",
    optionsKey(looks),
    e.heading,
    e.message,
    t.format === "html" ? e.href : "",
  ].join("|");
  // A drawing under way is waited for; if it failed (its client was refused), this one tries.
  const underWay = drawingErrors.get(key);
  let body = renderMemo.get(key)?.body ?? (underWay && (await underWay.catch(() => undefined)));
  if (body === undefined) {
    try {
      body = await drawOnce(key, async () => {
        if (client && !e.aboutClient && t.format !== "html") await admitRender(c.env, client);
        return drawError(t, e, looks, config, c.env.RASTER);
      });
    } catch (refusal) {
      if (!(refusal instanceof ApiError && refusal.code === "render_budget")) throw refusal;
      // The paused card instead, with no client left to charge.
      return failure(c, refusal, t, options, config, undefined);
    }
  }
  const headers: Record<string, string> = {
    ...(await widgetHeaders(t.format, config, looks)),
    "Cache-Control": e.cacheControl,
    "Cache-Tag": cacheTags(t.kind, { id: String(t.id) }).join(","),
    "X-Problem-Code": e.code,
  };
  if (!refused) return send(c, body, 200, headers);
  // Past the render budget: the card says so, and so do the status and its headers.
  return send(c, body, 429, { ...headers, ...refused.headers, Vary: "Accept" });
}

/**
 * Error cards being drawn (charged, then drawn), by key: requests arriving meanwhile (a page
 * of cards for a missing id, a flood refused at once) wait for that drawing instead of each
 * drawing, and charging, their own.
 */
const drawingErrors = new Map<string, Promise<string | Uint8Array>>();

function drawOnce(key: string, draw: () => Promise<string | Uint8Array>): Promise<string | Uint8Array> {
  const drawing = draw()
    .then((body) => {
      renderMemo.set(key, { etag: "", body });
      return body;
    })
    .finally(() => drawingErrors.delete(key));
  drawingErrors.set(key, drawing);
  return drawing;
}

function drawError(
  t: Target,
  e: ViewerError,
  looks: WidgetOptions,
  config: Config,
  raster: Fetcher | undefined,
): Promise<string | Uint8Array> {
  if (t.format === "svg") return Promise.resolve(errorSvg(e.heading, e.message, looks, { fonts: true }));
  if (t.format === "png")
    return rasterise(raster, errorSvg(e.heading, e.message, looks, svgForPng(t.layout, looks.size, t.width)));
  const card = errorCard(e.heading, e.message, e.href, { options: looks, imageHosts: config.imageHosts });
  return Promise.resolve(htmlPage(card, themeCss(looks) + CARD_CSS, looks.size));
}

/**
 * Whether a refused card's caller asked for JSON rather than the card: its Accept names JSON
 * before the card's own type (or its wildcard). Browsers and image proxies ask for images or
 * HTML (and * / * last), so they get the card.
 */
function asksForJson(accept: string | undefined, format: Format): boolean {
  if (!accept) return false;
  const json = accept.search(/application\/(problem\+)?json/i);
  if (json < 0) return false;
  const own = accept.search(
    format === "html" ? /text\/html/i : format === "svg" ? /image\/(svg\+xml|\*)/i : /image\/(png|\*)/i,
  );
  return own < 0 || json < own;
}

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
  return htmlPage(card, themeCss(l.options) + CARD_CSS, l.options.size, pageLinks(origin, t, card, l, view.data));
}

function pageLinks(origin: string, t: Target, card: Card, l: LoadContext, data: unknown): PageLinks {
  const feed = feedFor(t.kind, data);
  const query = optionsQuery(l.options);
  const extra = query ? `&${query.slice(1)}` : "";
  const pageUrl = beatpassPageUrl(t.kind, t.id, card.title);
  return {
    kind: t.kind,
    self: `${origin}/widget/${t.kind}/${t.id}${query}`,
    oembed: `${origin}/oembed?url=${encodeURIComponent(pageUrl)}&format=json${extra}`,
    image: { url: `${origin}/widget/${t.kind}/${t.id}.png${query}`, ...OG_IMAGE },
    width: DEFAULT_WIDTH,
    feed: feed && { url: `${origin}${feed.path}`, title: feed.title },
  };
}
