import { getPath, getQueryParam } from "hono/utils/url";
import { ipLimitKey } from "../clients/ip";
import { chargeRequestTo } from "../clients/limits";
import { requestPolicy } from "../clients/tiers";
import { type Env, loadConfig } from "../env";
import { corsHeaders } from "../http/cors";
import { logRequest, startRequest } from "../http/observe";
import { jsonAnswer } from "../http/respond";
import { respondWith, serverTiming } from "../http/send";
import type { Client } from "../lib/trace";
import type { LoadContext } from "./card-data";
import { loadedWidgets, WIDGET_ROUTE } from "./cards";
import { CATALOG_READS } from "./catalog";
import { tierDeps } from "./deps";

/**
 * The hit lane: an anonymous GET that this isolate can answer from memory, with parameters it
 * has validated before, is answered here, without Hono's routing and context and the
 * middleware chain around it. Most requests are such hits, and that chain alone, with nothing
 * in it, cost a hit 5-8% of the throughput of a Worker that only sends its bytes
 * (docs/performance.md, "Our share of a hit"). Two kinds of request take it: a /v1 read whose
 * data is in memory, and an HTML card whose data and drawing are (routes/widgets.ts, `heldCard`).
 *
 * The lane has no rules of its own: it calls what the whole way calls (the request's start
 * and log line, CORS, the client's charge, the route's memo of validated input, the cache
 * engine's memory answer, the JSON answer's headers, the card's, `send`'s response), and a
 * test compares its answers with the Hono app's, header by header
 * (test/integration/hit-lane.test.ts, card-lane.test.ts). Anything else returns undefined
 * with nothing counted or started, and the app answers: another method or route, an
 * X-Api-Key, a path with a "%" left after Hono's decoding, parameters not seen before, a
 * miss, a cached 404, purges not yet read, a card not drawn yet. (A /v1 client past its limit
 * here is the one exception: counted, it is counted again by the app, which changes nothing,
 * since it is past its limit already.)
 */
export function hitLane(request: Request, env: Env, ctx: ExecutionContext): Response | undefined {
  // request.url is a new string on each read: read once (Hono's getPath reads only `url`).
  const url = request.url;
  const path = getPath({ url } as Request);
  const read = path.startsWith("/v1/") ? matchRead(path) : undefined;
  const card = !read && path.startsWith("/widget/") ? matchCard(path) : undefined;
  if (!read && !card) return undefined;
  if (request.method !== "GET") return undefined;
  const headers = request.headers;
  const config = loadConfig(env);
  if (headers.has("X-Api-Key") || !config.ok) return undefined;
  const started = startRequest(request, headers);
  const client: Client = { tier: "anon", limitKey: ipLimitKey(headers.get("CF-Connecting-IP")) };
  const deps = tierDeps(env, ctx, config.config, client, started.trace);
  const query = getQueryParam(url) as Record<string, string>;
  const lane = { config: config.config, env, deps, trace: started.trace, client };
  const answer = read
    ? jsonHit(read, lane, query, headers)
    : card?.widgets.heldCard(url, card.kind, card.file, query, headers.get("If-None-Match"), lane);
  if (!answer) return undefined;
  // The request's headers (as observe and the route's middleware record them) into the
  // answer's own fresh object: no key is in both.
  const all = answer.headers;
  for (const name in started.headers) all[name] = started.headers[name] as string;
  const res = respondWith(all, serverTiming(started.trace, started.startedAt), false, answer.body, answer.status);
  logRequest(env, started, "GET", read ? read.pattern : WIDGET_ROUTE, res.status, client);
  return res;
}

/** What a request in the lane reads with: a card's LoadContext, less the options. */
type Lane = Omit<LoadContext, "options">;

/** A /v1 read from memory, charged to its client, with the API's CORS and RateLimit-Policy. */
function jsonHit(
  match: NonNullable<ReturnType<typeof matchRead>>,
  lane: Lane,
  query: Record<string, string>,
  headers: Headers,
) {
  const { config, env, client } = lane;
  const hit = match.read.memoryHit(config, env, lane.deps, match.params, query, lane.trace, client.limitKey);
  // Past its limit here, the client is refused by the app.
  if (!hit || !chargeRequestTo(env, client, Date.now())) return undefined;
  hit.take();
  const answer = jsonAnswer(hit.served, hit.policy, hit.cacheTag, headers.get("If-None-Match"));
  const all = answer.headers;
  // Origin matters only to an allowlist.
  const cors = corsHeaders(config.allowedOrigins, config.allowedOrigins && headers.get("Origin"));
  for (const name in cors) all[name] = cors[name] as string;
  all["RateLimit-Policy"] = requestPolicy("anon");
  return answer;
}

/**
 * /widget/<kind>/<file>, once the card module is loaded. Anything but a known kind and an id
 * validated before (no "/", "." or "%" in it) is turned away by `heldCard`.
 */
function matchCard(path: string) {
  const widgets = loadedWidgets();
  // "/widget/" is 8 characters.
  const slash = path.indexOf("/", 8);
  return widgets && slash > 0 ? { widgets, kind: path.slice(8, slash), file: path.slice(slash + 1) } : undefined;
}

type Read = (typeof CATALOG_READS)[number];
interface Pattern {
  read: Read;
  /** The route as the app registers it, for the log line. */
  pattern: string;
  /** Literal segments, or the parameter's name (from ":name"). */
  segments: { literal?: string; param?: string }[];
}

let byLength: Map<number, Pattern[]> | undefined;

/**
 * The read route `path` (as Hono's getPath decoded it) names, and its parameters, matched as
 * the app's router would: strict, case-sensitive, no empty segment.
 */
function matchRead(path: string): { read: Read; pattern: string; params: Record<string, string> } | undefined {
  // An escape getPath kept (%25) is decoded again in Hono's parameters, by its rules: left to it.
  if (path.includes("%")) return undefined;
  byLength ??= patterns();
  const parts = path.split("/");
  for (const p of byLength.get(parts.length) ?? []) {
    const params: Record<string, string> = {};
    let i = 0;
    for (; i < parts.length; i++) {
      const seg = p.segments[i];
      const part = parts[i] ?? "";
      if (seg?.param !== undefined && part !== "") params[seg.param] = part;
      else if (seg?.literal !== part) break;
    }
    if (i === parts.length) return { read: p.read, pattern: p.pattern, params };
  }
  return undefined;
}

function patterns(): Map<number, Pattern[]> {
  const out = new Map<number, Pattern[]>();
  for (const read of CATALOG_READS) {
    const pattern = `/v1${read.path}`;
    const segments = pattern.split("/").map((s) => (s.startsWith(":") ? { param: s.slice(1) } : { literal: s }));
    const list = out.get(segments.length) ?? [];
    list.push({ read, pattern, segments });
    out.set(segments.length, list);
  }
  return out;
}
