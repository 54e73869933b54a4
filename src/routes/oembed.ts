import { Hono } from "hono";
import * as z from "zod/mini";
import { etagFor } from "../cache/entry";
import type { TtlFamily } from "../cache/policy";
import { cacheTags } from "../cache/purge";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { readOnly } from "../http/methods";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { esc } from "../render/escape";
import { CARD_HEIGHTS } from "../render/sizes";
import { BEATPASS_WEB_ORIGIN, beatpassPageUrl, type EntityKind } from "../render/urls";
import type { Album, Artist, Playlist, Track } from "../schemas/entities";
import { readThrough, tierDeps } from "./catalog";

/**
 * oEmbed 1.0 (https://oembed.com) for BeatPass page URLs: a `rich` response whose html is
 * this Worker's iframe card. Per the spec: 404 for a URL we cannot embed, 501 for a format
 * other than json, and width/height within maxwidth/maxheight.
 */

const DEFAULT_WIDTH = 480;
const MIN_WIDTH = 280;
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

const ROUTE_FOR: Record<EntityKind, { name: string; family: TtlFamily }> = {
  track: { name: "track", family: "entity" },
  artist: { name: "artist", family: "entity" },
  album: { name: "album", family: "entity" },
  playlist: { name: "playlist", family: "entity" },
};

function authorOf(kind: EntityKind, data: unknown): { name?: string; url?: string } {
  const artists = kind === "track" ? (data as Track).artists : kind === "album" ? (data as Album).artists : undefined;
  const first = artists?.[0];
  if (kind === "artist") return { name: (data as Artist).name };
  return first
    ? { name: artists.map((a) => a.name).join(", "), url: beatpassPageUrl("artist", first.id, first.name) }
    : {};
}

export function oembedRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/oembed", async (c) => {
    const q = validate("query", oembedQuerySchema, c.req.query());
    if (q.format !== "json") throw new ApiError("unsupported_format", "Only format=json is available.");
    const target = parseBeatpassUrl(q.url);
    if (!target) throw new ApiError("not_found", "That is not a BeatPass track, artist, album or playlist URL.");

    const config = requireConfig(c.env);
    const route = ROUTE_FOR[target.kind];
    const { data, served } = await readThrough(
      route.name,
      { id: String(target.id) },
      `${target.kind} ${target.id}`,
      config,
      c.env,
      tierDeps(c.env, c.executionCtx, config, c.get("client"), c.get("trace")),
      c.get("trace"),
      c.get("client"),
    );
    const item = data as Track | Artist | Album | Playlist;

    const width = Math.max(MIN_WIDTH, Math.min(DEFAULT_WIDTH, q.maxwidth ?? DEFAULT_WIDTH));
    const heights = CARD_HEIGHTS[target.kind];
    const size = q.maxheight !== undefined && q.maxheight < heights.standard ? "compact" : "standard";
    const height = Math.min(heights[size], q.maxheight ?? Number.POSITIVE_INFINITY);
    const src = `${new URL(c.req.url).origin}/widget/${target.kind}/${target.id}${size === "compact" ? "?size=compact" : ""}`;
    const title = item.name;
    const author = authorOf(target.kind, item);
    const policy = config.policy[route.family];
    // The body depends on the item's data and on the size and origin asked for, so the ETag does too.
    const etag = await etagFor(`${served.entry.etag}|${src}|${width}|${height}`);
    const tags = cacheTags(target.kind, { id: String(target.id) });
    const headers = cacheHeaders({ ...served, entry: { ...served.entry, etag } }, policy, tags);
    if (matchesEtag(c.req.header("If-None-Match"), etag)) return send(c, null, 304, headers);
    const oembed = {
      version: "1.0",
      type: "rich",
      provider_name: "BeatPass",
      provider_url: BEATPASS_WEB_ORIGIN,
      title,
      ...(author.name ? { author_name: author.name } : {}),
      ...(author.url ? { author_url: author.url } : {}),
      html: `<iframe src="${esc(src)}" width="${width}" height="${height}" style="border:0;max-width:100%" loading="lazy" title="${esc(title)} on BeatPass"></iframe>`,
      width,
      height,
      cache_age: policy.soft,
    };
    return send(c, JSON.stringify(oembed), 200, { ...headers, "Content-Type": "application/json" });
  });
  readOnly(app, "/oembed");
  return app;
}
