import type { Context } from "hono";
import type { Served } from "../cache/engine";
import { etagFor } from "../cache/entry";
import { COLLECTIONS_TAG } from "../cache/purge";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { type Candidate, newestFirst } from "../feeds/entries";
import { firstSeen, seenKey } from "../feeds/seen";
import { type FeedKind, type FeedSource, loadFeed, type SourceContext } from "../feeds/sources";
import { originOf } from "../http/origin";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { memo } from "../lib/memo-budget";
import { FEED_CONTENT_TYPES, type FeedDoc, type FeedFormat, writeFeed } from "../render/feed";
import { allowedUrl } from "../render/urls";
import { idParamsSchema, tagParamsSchema } from "../schemas/requests";
import { tierDeps } from "./deps";

/**
 * GET /feeds/{artist|playlist|genre|tag}/<id or name>.{atom|rss|json}: Atom, RSS and JSON
 * Feed built from the same cached reads as /v1 (feeds/sources.ts), so a feed reader polling
 * every minute costs BeatPass nothing once the lists are cached, and a cold feed counts
 * against the client's miss budget like any cold request. Registered in routes/cards.ts,
 * which imports this module on the first feed request.
 */

/** Bump when the markup changes, so readers do not keep a 304 for an old shape. */
const FEED_VERSION = "1";
const FILE = /^(.+)\.(atom|rss|json)$/;

/** The feed's own URL, without its extension (its Atom id) and in each format. */
function selfUrls(origin: string, kind: FeedKind, name: string) {
  const base = `${origin}/feeds/${kind}/${encodeURIComponent(name)}`;
  return { id: base, self: { atom: `${base}.atom`, rss: `${base}.rss`, json: `${base}.json` } };
}

/** Which route a feed path segment names, and its validated name; 400/404 problems otherwise. */
function target(kind: FeedKind, file: string): { name: string; format: FeedFormat } {
  const m = FILE.exec(file);
  if (!m?.[1] || !m[2])
    throw new ApiError("not_found", "There is no such feed: a feed URL ends in .atom, .rss or .json.");
  const format = m[2] as FeedFormat;
  if (kind === "artist" || kind === "playlist")
    return { name: String(validate("path", idParamsSchema(), { id: m[1] }).id), format };
  return { name: validate("path", tagParamsSchema(), { name: m[1] }).name, format };
}

interface Built {
  etag: string;
  body: string;
  lastModified: number;
}

// Built feeds by everything they depend on (never the URL alone): a polled feed is written
// once per change of its data, not once per poll.
const built = memo<Built>("feeds", {
  sizeOf: (b, key) => stringBytes(key) + stringBytes(b.body) + stringBytes(b.etag) + SMALL_OBJECT_BYTES,
});

/** The entry whose age and state a feed's headers report: the oldest part (a stale one first). */
function representative(parts: Served[]): Served {
  const failed = parts.find((p) => p.state === "stale-if-error");
  return failed ?? parts.reduce((a, b) => (b.ageMs > a.ageMs ? b : a));
}

async function build(
  source: FeedSource,
  kind: FeedKind,
  name: string,
  format: FeedFormat,
  origin: string,
  l: SourceContext,
): Promise<Built> {
  const all = source.candidates();
  const undated = new Map<string, number>();
  for (const { c, observed } of all) if (c.raw === undefined && !undated.has(c.id)) undated.set(c.id, observed);
  const seen = await firstSeen(l.deps.kv, seenKey(kind, name), undated, l.deps.now(), l.deps.waitUntil);
  const candidates: Candidate[] = all.map(({ c }) => c);
  const entries = newestFirst(candidates, (id) => seen(id) ?? undated.get(id) ?? 0);
  const fetched = Math.max(...source.parts.map((p) => p.entry.fetchedAt));
  const updated = entries.reduce((m, e) => Math.max(m, e.date), entries.length ? 0 : fetched);
  const doc: FeedDoc = {
    ...selfUrls(origin, kind, name),
    title: source.title,
    description: source.description,
    link: source.link,
    icon: allowedUrl(source.icon, l.config.imageHosts),
    updated,
    entries,
  };
  const body = writeFeed[format](doc);
  return { body, etag: await etagFor(body), lastModified: Math.min(updated, l.deps.now()) };
}

/** GET /feeds/:kind/:file for one kind (routes/cards.ts registers each). */
export function serveFeed(kind: FeedKind) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const { name, format } = target(kind, c.req.param("file") ?? "");
    const config = requireConfig(c.env);
    const trace = c.get("trace");
    const client = c.get("client");
    const origin = originOf(c.req.url);
    const l: SourceContext = {
      config,
      env: c.env,
      deps: tierDeps(c.env, c.executionCtx, config, client, trace),
      trace,
      client,
      origin,
      imageHosts: config.imageHosts,
    };
    const source = await loadFeed(kind, name, l);
    const input = [
      FEED_VERSION,
      origin,
      kind,
      name,
      format,
      ...source.parts.map((p) => p.entry.etag),
      config.imageHosts.join(","),
    ].join("|");
    let feed = built.get(input);
    if (!feed) {
      feed = await build(source, kind, name, format, origin, l);
      built.set(input, feed);
    }
    const tags = [...(kind === "genre" ? ["genres"] : [`${kind}:${name}`]), "feeds", COLLECTIONS_TAG];
    const served = representative(source.parts);
    const headers = cacheHeaders(
      { ...served, entry: { ...served.entry, etag: feed.etag } },
      config.policy.list,
      tags.join(","),
    );
    // s-maxage said outright: a shared cache in front (a CDN, a feed service's proxy) answers
    // every reader's poll within the list's soft window without reaching this code. (An API
    // key's answer is private: send() says so, and no shared cache may keep it.)
    if (client?.keyId === undefined)
      headers["Cache-Control"] = headers["Cache-Control"]?.replace(/max-age=(\d+)/, "max-age=$1, s-maxage=$1") ?? "";
    headers["Last-Modified"] = new Date(feed.lastModified).toUTCString();
    if (notModified(c, feed)) return send(c, null, 304, headers);
    return send(c, feed.body, 200, { ...headers, "Content-Type": FEED_CONTENT_TYPES[format] });
  };
}

/**
 * RFC 9110 §13.2.2: If-None-Match when sent, else If-Modified-Since (to the second: an
 * HTTP date has no finer grain).
 */
function notModified(c: Context<AppEnv>, feed: Built): boolean {
  const inm = c.req.header("If-None-Match");
  if (inm !== undefined) return matchesEtag(inm, feed.etag);
  const ims = Date.parse(c.req.header("If-Modified-Since") ?? "");
  return Number.isFinite(ims) && Math.floor(feed.lastModified / 1000) * 1000 <= ims;
}
