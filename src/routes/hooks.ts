import { Hono } from "hono";
import * as z from "zod/mini";
import { recordPurgeWithKeeper } from "../budget/stubs";
import { ANY, applyPurges, COLLECTIONS_TAG } from "../cache/purge";
import { type AppEnv, requireConfig } from "../env";
import { ApiError } from "../errors";
import { validate } from "../http/validate";
import { logEvent } from "../lib/log";
import { once } from "../lib/once";
import { readCapped } from "../lib/read-capped";

/**
 * POST /hooks/purge: the operator's systems tell the Worker that BeatPass data changed
 * (BeatPass itself sends no webhooks). Signed like Stripe's webhooks:
 *
 *   BeatPass-Edge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * Refused, before any cache is touched: bodies over MAX_BODY_BYTES (413, without reading
 * more than that), a missing or malformed header, a timestamp more than TOLERANCE_SECONDS
 * from now, or a wrong signature (all 401, never 500), and a signature already used (409).
 */
export const SIGNATURE_HEADER = "BeatPass-Edge-Signature";
export const MAX_BODY_BYTES = 8 * 1024;
export const TOLERANCE_SECONDS = 300;
const SEEN_PREFIX = "v1:meta:purge-seen:";
const SIGNATURE_PATTERN = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

/** `track:123`, `tag:lo-fi`, ... Ids are BeatPass's; tag names use the routes' charset. */
export const RESOURCE_PATTERN =
  /^(?:(?:track|artist|album|playlist|user):[1-9][0-9]{0,9}|tag:[\p{L}\p{N}](?:[\p{L}\p{N} _-]{0,48}[\p{L}\p{N}])?)$/u;
export const purgeBodySchema = once(() =>
  z.strictObject({
    resources: z
      .array(z.string().check(z.regex(RESOURCE_PATTERN, "must look like track:123, artist:7 or tag:name")))
      .check(z.minLength(1), z.maxLength(100)),
  }),
);

// Signatures used in this isolate; KV carries them to the others.
const seen = new Map<string, number>();

export function hookRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/hooks/purge", async (c) => {
    const config = requireConfig(c.env);
    if (!config.purgeSecret)
      throw new ApiError("config_error", "The purge webhook is not configured (PURGE_WEBHOOK_SECRET).", {
        // README, "Errors": every 5xx answer carries Retry-After (as requireConfig's does).
        headers: { "Retry-After": "300" },
      });
    const bytes = await readCapped(c.req.raw, MAX_BODY_BYTES, { cancel: false });
    if (!bytes) throw new ApiError("payload_too_large", `The body must be at most ${MAX_BODY_BYTES} bytes.`);
    const body = new TextDecoder().decode(bytes);

    const now = Date.now();
    const signature = await verifySignature(c.req.header(SIGNATURE_HEADER), body, config.purgeSecret, now);
    if (await alreadySeen(c.env.BEATPASS_CACHE, signature, now)) {
      throw new ApiError("signature_replayed", "This signature was already used; sign each purge afresh.");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new ApiError("invalid_request", 'The body must be JSON: {"resources": ["track:123"]}.');
    }
    const { resources } = validate("body", purgeBodySchema(), parsed);
    const unique = [...new Set(resources)];
    seen.set(signature, now);
    c.executionCtx.waitUntil(
      c.env.BEATPASS_CACHE.put(`${SEEN_PREFIX}${signature}`, "1", { expirationTtl: TOLERANCE_SECONDS * 2 }).catch(
        () => undefined,
      ),
    );
    const purgedAt = await recordPurge(c.env, unique, config.budgetTimeoutMs);
    await purgeEdgeCache(c.executionCtx, unique);
    logEvent("info", "purge", { resources: unique.slice(0, 20), count: unique.length });
    c.header("Cache-Control", "no-store");
    return c.json({ purged: unique, collections: true, purged_at: new Date(purgedAt).toISOString() });
  });
  app.all("/hooks/purge", () => {
    throw new ApiError("method_not_allowed", "Only POST is allowed here.", { headers: { Allow: "POST" } });
  });
  return app;
}

/** The Workers Cache's purge, where the runtime has one ([cache] enabled = true in wrangler.toml). */
interface EdgeCache {
  purge(options: { tags: string[] }): Promise<unknown>;
}

/**
 * With the Workers Cache (or any tag-purging cache) in front, cached responses never reach
 * this Worker: they must be dropped by the tags they carry (src/cache/purge.ts, cacheTags).
 * Its failure is logged, not fatal: the Worker's own copies are purged already.
 */
async function purgeEdgeCache(ctx: unknown, resources: string[]): Promise<void> {
  const cache = (ctx as { cache?: Partial<EdgeCache> }).cache;
  if (typeof cache?.purge !== "function") return;
  try {
    await cache.purge({ tags: [...resources, COLLECTIONS_TAG] });
  } catch (err) {
    logEvent("warn", "edge_purge_failed", { error: err instanceof Error ? err.message : String(err) });
  }
}

/** Records the purge with the budget keeper, and in this isolate at once. */
async function recordPurge(env: AppEnv["Bindings"], resources: string[], timeoutMs: number): Promise<number> {
  let at: number;
  try {
    at = await recordPurgeWithKeeper(env.UPSTREAM_BUDGET, resources, timeoutMs);
  } catch (err) {
    logEvent("warn", "budget_unavailable", { step: "purge", error: err instanceof Error ? err.message : String(err) });
    throw new ApiError(
      "purge_unavailable",
      "The purge could not be recorded just now; send it again (sign it afresh).",
      {
        headers: { "Retry-After": "10" },
      },
    );
  }
  applyPurges(Object.fromEntries([...resources, ANY].map((r) => [r, at])));
  return at;
}

/** Returns the signature's hex on success; throws 401 invalid_signature otherwise. */
async function verifySignature(header: string | undefined, body: string, secret: string, now: number): Promise<string> {
  const m = header ? SIGNATURE_PATTERN.exec(header.trim()) : null;
  if (!m)
    throw new ApiError(
      "invalid_signature",
      `Missing or malformed ${SIGNATURE_HEADER} header; expected t=<unix>,v1=<hex>.`,
    );
  const [, t = "", sig = ""] = m;
  if (Math.abs(now / 1000 - Number(t)) > TOLERANCE_SECONDS) {
    throw new ApiError("invalid_signature", `The signature timestamp is more than ${TOLERANCE_SECONDS} s from now.`);
  }
  const expected = await hmacHex(secret, `${t}.${body}`);
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(sig);
  if (!crypto.subtle.timingSafeEqual(a, b))
    throw new ApiError("invalid_signature", "The signature does not match the body.");
  return sig;
}

export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return [...new Uint8Array(mac)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

async function alreadySeen(kv: KVNamespace, signature: string, now: number): Promise<boolean> {
  for (const [s, at] of seen) if (now - at > TOLERANCE_SECONDS * 2000) seen.delete(s);
  if (seen.has(signature)) return true;
  try {
    return (await kv.get(`${SEEN_PREFIX}${signature}`)) !== null;
  } catch {
    return false;
  }
}

/** Forgets used signatures (tests). */
export function resetSeenSignatures(): void {
  seen.clear();
}
