import type { Context } from "hono";
import type { Served } from "../cache/engine";
import type { FamilyPolicy } from "../cache/policy";
import type { AppEnv } from "../env";
import { send } from "./send";

/** RFC 9211 cache name: identifies this layer in a Cache-Status chain. */
export const CACHE_STATUS_NAME = "beatpass-edge";

/**
 * Sends a cached or freshly loaded JSON body with headers that tell clients and CDNs the
 * truth about it: a strong ETag (If-None-Match gives 304), Cache-Control whose max-age is
 * the freshness left and whose stale-while-revalidate / stale-if-error match our policy,
 * Age, and a Cache-Status saying fresh hit (and from which tier), stale, or miss.
 */
export function cachedJson(
  c: Context<AppEnv>,
  served: Served,
  policy: FamilyPolicy,
  cacheTag: string,
  upstreamStatus?: number,
): Response {
  const answer = jsonAnswer(served, policy, cacheTag, c.req.header("If-None-Match"), upstreamStatus);
  return send(c, answer.body, answer.status, answer.headers);
}

/** `cachedJson`'s status, body and headers (the hit lane sends them without Hono). */
export function jsonAnswer(
  served: Served,
  policy: FamilyPolicy,
  cacheTag: string,
  ifNoneMatch: string | null | undefined,
  upstreamStatus?: number,
): { status: number; body: string | null; headers: Record<string, string> } {
  const headers = cacheHeaders(served, policy, cacheTag, upstreamStatus);
  if (matchesEtag(ifNoneMatch, served.entry.etag)) return { status: 304, body: null, headers };
  headers["Content-Type"] = "application/json; charset=utf-8";
  return { status: 200, body: served.entry.body, headers };
}

/**
 * ETag, Cache-Control, Age, Cache-Tag (`cacheTag`: the tags, comma-joined) and Cache-Status
 * for a served entry (shared with the widgets). `max-age` is the whole soft window and `Age`
 * the entry's age: a downstream cache subtracts one from the other (RFC 9111 §4.2), so its
 * freshness ends when ours does. (max-age already reduced by the age, with Age sent too,
 * would count the age twice.)
 */
export function cacheHeaders(
  served: Served,
  policy: FamilyPolicy,
  cacheTag: string,
  upstreamStatus?: number,
): Record<string, string> {
  const ageSeconds = Math.max(0, Math.floor(served.ageMs / 1000));
  const left = policy.soft - ageSeconds;
  return {
    ETag: served.entry.etag,
    "Cache-Control": cacheControl(policy),
    Age: String(ageSeconds),
    "Cache-Tag": cacheTag,
    "Cache-Status": cacheStatus(served, left, upstreamStatus),
  };
}

// Policies are built with the config, once per isolate: their header is too.
const controls = new WeakMap<FamilyPolicy, string>();

function cacheControl(policy: FamilyPolicy): string {
  let value = controls.get(policy);
  if (value === undefined) {
    value = `public, max-age=${policy.soft}, stale-while-revalidate=${policy.hard - policy.soft}, stale-if-error=${policy.staleIfError - policy.soft}`;
    controls.set(policy, value);
  }
  return value;
}

function cacheStatus(served: Served, left: number, upstreamStatus: number | undefined): string {
  switch (served.state) {
    case "fresh":
      return `${CACHE_STATUS_NAME}; hit; ttl=${left}; detail=${served.tier}`;
    case "stale":
      return `${CACHE_STATUS_NAME}; hit; ttl=${left}; detail=stale-while-revalidate`;
    case "stale-if-error":
      return `${CACHE_STATUS_NAME}; fwd=stale${upstreamStatus ? `; fwd-status=${upstreamStatus}` : ""}; ttl=${left}; detail=stale-if-error`;
    case "miss":
      return `${CACHE_STATUS_NAME}; fwd=miss; stored${served.collapsed ? "; collapsed" : ""}`;
  }
}

/** RFC 9110 weak comparison for If-None-Match: a list of tags, each maybe W/-prefixed, or "*". */
export function matchesEtag(header: string | null | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}
