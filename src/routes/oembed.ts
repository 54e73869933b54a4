import type { Context } from "hono";
import * as z from "zod/mini";
import { etagFor } from "../cache/entry";
import { cacheTags } from "../cache/purge";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { originOf } from "../http/origin";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { esc } from "../render/escape";
import type { Card } from "../render/html-card";
import { DEFAULT_WIDTH, MIN_WIDTH } from "../render/layout";
import { OG_IMAGE, pngSize, pngWidthWithin } from "../render/png";
import { BEATPASS_WEB_ORIGIN, beatpassPageUrl, type EntityKind } from "../render/urls";
import type { Album, Artist, Track } from "../schemas/entities";
import { optionsQuery, PNG_MAX_WIDTH, PNG_MIN_WIDTH, type WidgetOptions } from "../schemas/widget";
import { type CardView, type LoadContext, loadCard, widgetOptions } from "./card-data";
import { tierDeps } from "./deps";

/**
 * oEmbed 1.0 (https://oembed.com) for BeatPass page URLs: a `rich` response whose html is
 * this Worker's iframe card. Per the spec (section 2.3.5): 404 for a URL we have no card for
 * (not a BeatPass page, unknown or removed, no layout fits), 401 for a private item, 501 for
 * a format other than json, and width/height within maxwidth/maxheight.
 */

const dimension = z
  .pipe(z.string().check(z.regex(/^[0-9]{1,5}$/, "must be a positive integer")), z.transform(Number))
  .check(z.refine((n) => n >= 1, "must be at least 1"));

const oembedQuerySchema = z.object({
  url: z.string().check(z.minLength(1, "is required"), z.maxLength(2048)),
  maxwidth: z.optional(dimension),
  maxheight: z.optional(dimension),
  format: z._default(z.string().check(z.maxLength(20)), "json"),
});

const PAGE_PATH = /^\/(track|artist|album|playlist)\/([1-9][0-9]{0,9})(?:\/[^/]*)?(?:\/embed)?\/?$/;

/** Reads a BeatPass page URL (https://beatpass.ca/track/3629/zoom) into kind and id. */
export function parseBeatpassUrl(raw: string): { kind: EntityKind; id: number } | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const allowedHost = url.hostname === "beatpass.ca" || url.hostname === "www.beatpass.ca";
  if (url.protocol !== "https:" || !allowedHost || url.port || url.username) return undefined;
  const m = PAGE_PATH.exec(url.pathname);
  if (!m) return undefined;
  return { kind: m[1] as EntityKind, id: Number(m[2]) };
}

/** oEmbed's author: the artist (an artist's card is its own author), linked to BeatPass. */
function authorOf(kind: EntityKind, data: unknown): { author_name?: string; author_url?: string } {
  if (kind === "artist") return { author_name: (data as Artist).name };
  const artists = kind === "track" ? (data as Track).artists : kind === "album" ? (data as Album).artists : undefined;
  const first = artists?.[0];
  return first
    ? {
        author_name: artists.map((a) => a.name).join(", "),
        author_url: beatpassPageUrl("artist", first.id, first.name),
      }
    : {};
}

/** GET /oembed (registered in routes/cards.ts, which imports this module when first asked). */
export async function serveOembed(c: Context<AppEnv>): Promise<Response> {
  const query = c.req.query();
  const q = validate("query", oembedQuerySchema, query);
  const asked = widgetOptions(query);
  if (q.format !== "json") throw new ApiError("unsupported_format", "Only format=json is available.");
  const target = parseBeatpassUrl(q.url);
  if (!target) throw new ApiError("not_found", "That is not a BeatPass track, artist, album or playlist URL.");
  const maxwidth = q.maxwidth ?? Number.POSITIVE_INFINITY;
  if (maxwidth < MIN_WIDTH) throw new ApiError("not_found", `No card fits in less than ${MIN_WIDTH} px of width.`);

  const config = requireConfig(c.env);
  const l: LoadContext = {
    config,
    env: c.env,
    deps: tierDeps(c.env, c.executionCtx, config, c.get("client"), c.get("trace")),
    options: asked,
    trace: c.get("trace"),
    client: c.get("client"),
  };
  // The waveform does not change a card's height: sizing the frame needs one read.
  const view = await loadCard(target.kind, target.id, l, { wave: false }).catch((err: unknown) => {
    throw inOembedTerms(err, target.kind);
  });
  const fit = fitting(query.size === undefined, asked, view, q.maxheight ?? Number.POSITIVE_INFINITY);
  if (!fit) throw new ApiError("not_found", "No layout of this card fits in the given maxheight.");
  const width = Math.min(DEFAULT_WIDTH, maxwidth);
  const origin = originOf(c.req.url);
  const options = optionsQuery(fit.options);
  const src = `${origin}/widget/${target.kind}/${target.id}${options}`;
  const maxheight = q.maxheight ?? Number.POSITIVE_INFINITY;
  const thumb = thumbnail(`${origin}/widget/${target.kind}/${target.id}.png`, options, maxwidth, maxheight);
  const title = fit.card.title;
  const author = authorOf(target.kind, view.data);
  const policy = view.policy;
  // The body depends on the item's data and on the size and origin asked for, so the ETag does too.
  const etag = await etagFor(
    [view.primary.entry.etag, src, width, fit.card.height, thumb.thumbnail_url ?? "-"].join("|"),
  );
  const tags = cacheTags(target.kind, { id: String(target.id) });
  const headers = cacheHeaders({ ...view.primary, entry: { ...view.primary.entry, etag } }, policy, tags.join(","));
  if (matchesEtag(c.req.header("If-None-Match"), etag)) return send(c, null, 304, headers);
  const oembed = {
    version: "1.0",
    type: "rich",
    provider_name: "BeatPass",
    provider_url: BEATPASS_WEB_ORIGIN,
    title,
    ...author,
    html: `<iframe src="${esc(src)}" width="${width}" height="${fit.card.height}" style="border:0;max-width:100%" loading="lazy" title="${esc(title)} on BeatPass" data-beatpass-embed></iframe><script async src="${esc(origin)}/embed.js"></script>`,
    width,
    height: fit.card.height,
    ...thumb,
    cache_age: policy.soft,
  };
  return send(c, JSON.stringify(oembed), 200, { ...headers, "Content-Type": "application/json" });
}

/**
 * BeatPass's 403 and 410 as oEmbed 1.0 names them: a private resource is 401 (the consumer
 * should link to it instead), one the provider has no response for is 404. The JSON API keeps
 * 403 and 410; the error's headers (its cache tags) go along.
 */
function inOembedTerms(err: unknown, kind: EntityKind): unknown {
  if (!(err instanceof ApiError)) return err;
  if (err.code === "forbidden")
    return new ApiError("not_public", `This ${kind} is not public on BeatPass: link to its page instead.`, {
      headers: err.headers,
      cause: err,
    });
  if (err.code === "gone")
    return new ApiError("not_found", `This ${kind} was removed from BeatPass.`, { headers: err.headers, cause: err });
  return err;
}

/**
 * The first layout, from fullest to smallest, whose height fits `maxheight`: the size asked
 * for if there was one; else standard, compact, then compact without the track list.
 */
function fitting(
  free: boolean,
  base: WidgetOptions,
  view: CardView,
  maxheight: number,
): { options: WidgetOptions; card: Card } | undefined {
  const candidates = free
    ? [
        { ...base, size: "standard" as const },
        { ...base, size: "compact" as const },
        { ...base, size: "compact" as const, hide: new Set([...base.hide, "tracks" as const]) },
      ]
    : [base];
  for (const options of candidates) {
    // Drawing the card is how its height is known: the same rows the widget will draw.
    const card = view.html(options);
    if (card.height <= maxheight) return { options, card };
  }
  return undefined;
}

/**
 * The PNG link preview, as large as the consumer allows: oEmbed 1.0 (section 2.3.4) wants
 * the thumbnail within maxwidth and maxheight too: the largest drawn width (200, 300, 400, 600,
 * 800 or 1200 px) that fits. None when that is under 200 px wide.
 */
function thumbnail(base: string, options: string, maxwidth: number, maxheight: number) {
  const fit = Math.floor(Math.min(PNG_MAX_WIDTH, maxwidth, (maxheight * OG_IMAGE.width) / OG_IMAGE.height));
  if (fit < PNG_MIN_WIDTH) return {};
  // Previews are drawn at a few widths only (render/png.ts): the largest that fits.
  const drawn = pngWidthWithin(fit) ?? fit;
  const { width, height } = pngSize("og", "standard", drawn);
  const query = drawn === PNG_MAX_WIDTH ? options : `${options}${options ? "&" : "?"}width=${drawn}`;
  return { thumbnail_url: `${base}${query}`, thumbnail_width: width, thumbnail_height: height };
}
