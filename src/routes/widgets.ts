import type { Context } from "hono";
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
import type { Client } from "../lib/trace";
import type { Card } from "../render/html-card";
import { DEFAULT_WIDTH } from "../render/layout";
import { htmlPage, type PageLinks } from "../render/page";
import { OG_IMAGE, type PngLayout, rasterise, snapPngWidth, svgForPng } from "../render/png";
import { CARD_CSS, themeCss } from "../render/theme";
import { beatpassPageUrl } from "../render/urls";
import { idParamsSchema } from "../schemas/requests";
import { optionsKey, optionsQuery, pngQuerySchema, type WidgetOptions } from "../schemas/widget";
import {
  artwork,
  type CardView,
  isKind,
  knownWidgetOptions,
  type LoadContext,
  loadCard,
  memoryCard,
  widgetOptions,
} from "./card-data";
import { kept, RENDER_VERSION, renderInput, renderMemo, type Target } from "./card-memo";
import { tierDeps } from "./deps";
import { asksForJson, drawError, viewerError } from "./widget-failure";
import { type Format, knownWidgetHeaders, widgetHeaders } from "./widget-headers";

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

const FILE = /^(.*?)(?:\.(svg|png))?$/;

/** GET /widget/:kind/:file (registered in routes/cards.ts, which imports this module when first asked). */
export async function serveWidget(c: Context<AppEnv, "/widget/:kind/:file">): Promise<Response> {
  const kind = c.req.param("kind");
  const m = FILE.exec(c.req.param("file"));
  const format = (m?.[2] ?? "html") as Format;
  if (!isKind(kind)) throw new ApiError("not_found", "There is no such widget.");
  const { id } = validate("path", idParamsSchema(), { id: m?.[1] ?? "" });
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

async function respond(c: Context<AppEnv>, t: Target, view: CardView, l: LoadContext): Promise<Response> {
  const art = t.format === "html" ? undefined : await artwork(view.artUrl, l);
  const origin = originOf(c.req.url);
  const input = renderInput(origin, t, view, l, art?.etag);
  const held = renderMemo.get(input);
  const etag = held?.etag ?? (await etagFor(input));
  const headers = { ...cardCacheHeaders(t, view, etag), ...(await widgetHeaders(t.format, l.config, l.options)) };
  // A 304 draws nothing, so it costs nothing and stores nothing.
  if (matchesEtag(c.req.header("If-None-Match"), etag)) return send(c, null, 304, headers);
  if (held) return send(c, held.body, 200, headers);
  // Drawn afresh: charged to the client (429 render_budget past its budget) before drawing.
  if (t.format !== "html") await admitRender(l.env, l.client);
  const body = await render(origin, t, view, l, art?.dataUri);
  renderMemo.set(input, { etag, body: kept(body) });
  return send(c, body, 200, headers);
}

/** ETag, Cache-Control, Age, Cache-Tag and Cache-Status of a card with ETag `etag`, from its data's. */
function cardCacheHeaders(t: Target, view: CardView, etag: string): Record<string, string> {
  const headers = cacheHeaders(view.primary, view.policy, cacheTags(t.kind, { id: String(t.id) }).join(","));
  // The card's own ETag, not its data's (the rest of these headers depend on the data alone).
  headers.ETag = etag;
  return headers;
}

/**
 * The hit lane's card (src/routes/hit-lane.ts): an HTML card whose data, options, stylesheet
 * hash and drawing this isolate already holds, answered as `serveWidget` answers it but
 * without an await, the card's reads counted. Anything else (another format, options or ids
 * not validated before, data or a drawing not in memory) is undefined with nothing counted,
 * and the app answers.
 */
export function heldCard(
  url: string,
  kind: string,
  file: string,
  query: Record<string, string>,
  ifNoneMatch: string | null,
  lane: Omit<LoadContext, "options">,
): { status: number; body: string | Uint8Array | null; headers: Record<string, string> } | undefined {
  // HTML only: "1.svg" is no id a route has validated, so memoryCard finds no data for it.
  if (!isKind(kind)) return undefined;
  const options = knownWidgetOptions(query);
  const headers = options && knownWidgetHeaders("html", lane.config, options);
  if (!options || !headers) return undefined;
  const l: LoadContext = {
    config: lane.config,
    env: lane.env,
    deps: lane.deps,
    trace: lane.trace,
    client: lane.client,
    options,
  };
  const card = memoryCard(kind, file, l);
  if (!card) return undefined;
  const t: Target = { kind, id: Number(file), format: "html", layout: "og", width: undefined };
  const held = renderMemo.get(renderInput(originOf(url), t, card.view, l, undefined));
  if (!held) return undefined;
  card.take();
  const all = Object.assign(cardCacheHeaders(t, card.view, held.etag), headers);
  if (matchesEtag(ifNoneMatch, held.etag)) return { status: 304, body: null, headers: all };
  return { status: 200, body: held.body, headers: all };
}

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
      renderMemo.set(key, { etag: "", body: kept(body) });
      return body;
    })
    .finally(() => drawingErrors.delete(key));
  drawingErrors.set(key, drawing);
  return drawing;
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
