import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Env } from "../env";
import { ApiError } from "../errors";
import { addHeader } from "../http/send";
import { logEvent } from "../lib/log";
import type { Client, ClientTier } from "../lib/trace";
import { checkApiKey, rememberedApiKey } from "./api-keys";
import { ipLimitKey } from "./ip";
import { withinHere } from "./local-limit";
import { requestPolicy, TIER_LIMITS } from "./tiers";

/**
 * Who is calling and how much they may: a valid X-Api-Key selects its tier; everyone else is
 * "anon", limited per IPv4 address or IPv6 /64 (from CF-Connecting-IP, src/clients/ip.ts).
 * Limits come from Workers Rate Limiting bindings, one per tier; their numbers live in
 * wrangler.toml and are mirrored in TIER_LIMITS for the RateLimit-Policy header (a test keeps
 * the two in step). A deployment without the bindings runs unlimited and says so once in the log.
 *
 * A key this isolate does not already know to be valid is checked at the caller's IP's
 * expense: the request is first charged to the IP's anonymous limit, and past it answered 429
 * before any KV read. Otherwise random keys would buy unlimited 401s, each costing a KV read.
 * If KV cannot be read, the key's request is served as anonymous (data is the same for every
 * tier, only limits differ) and the failure is not remembered.
 *
 * Headers follow the IETF draft "RateLimit header fields for HTTP": RateLimit-Policy on
 * every limited route, RateLimit (remaining 0, reset in t seconds) with the 429. The
 * binding reports only allowed/denied, so remaining quota is not sent on success.
 */

const BINDING: Record<ClientTier, "RATE_LIMIT_ANON" | "RATE_LIMIT_STANDARD" | "RATE_LIMIT_PARTNER"> = {
  anon: "RATE_LIMIT_ANON",
  standard: "RATE_LIMIT_STANDARD",
  partner: "RATE_LIMIT_PARTNER",
};

let warnedUnbound = false;

const LIMITED = (tier: ClientTier) =>
  `Too many requests for the ${tier} tier; slow down or use an API key with a higher tier.`;
const LIMITED_KEY_CHECKS =
  "Too many requests from this address for the anon tier: an API key this server has not yet accepted is checked within that limit. Slow down and retry after Retry-After.";

/** Charges one request to `limitKey` under the tier's binding; throws 429 rate_limited when denied. */
async function charge(env: Env, tier: ClientTier, limitKey: string, detail = LIMITED(tier)): Promise<void> {
  const binding = env[BINDING[tier]];
  if (!binding) {
    if (!warnedUnbound) logEvent("warn", "rate_limit_unbound", { binding: BINDING[tier] });
    warnedUnbound = true;
    return;
  }
  const { success } = await binding.limit({ key: limitKey });
  if (success) return;
  throw limited(tier, detail);
}

function limited(tier: ClientTier, detail: string): ApiError {
  const { periodSeconds } = TIER_LIMITS[tier];
  return new ApiError("rate_limited", detail, {
    headers: {
      "Retry-After": String(periodSeconds),
      "RateLimit-Policy": requestPolicy(tier),
      RateLimit: `"${tier}";r=0;t=${periodSeconds}`,
    },
  });
}

/**
 * Who is calling (tier and limit key), charging the request to its limit when `chargeRequest`:
 * counted in this isolate at once (a memory hit needs nothing more), and to the
 * deployment-wide binding through `client.chargeShared` when the request reaches past memory.
 * Cards pass false: a card already rendered costs nothing upstream, and image proxies and
 * shared addresses put thousands of viewers behind one IP, so for cards only the requests that
 * would reach BeatPass are counted (the miss budget, src/clients/miss-budget.ts).
 */
export async function identifyClient(c: Context<AppEnv>, chargeRequest: boolean): Promise<Client> {
  const presented = c.req.header("X-Api-Key");
  const ipKey = ipLimitKey(c.req.header("CF-Connecting-IP"));
  let client: Client = { tier: "anon", limitKey: ipKey };
  let chargedToIp = false;
  if (presented !== undefined) {
    const key = presented.trim();
    const now = Date.now();
    let check = await rememberedApiKey(key, now);
    if (!check?.ok) {
      if (c.env[BINDING.anon] && !withinHere(ipKey, "anon", now)) throw limited("anon", LIMITED_KEY_CHECKS);
      await charge(c.env, "anon", ipKey, LIMITED_KEY_CHECKS);
      chargedToIp = true;
      check ??= await checkApiKey(c.env.BEATPASS_CACHE, key, now);
    }
    if (check.ok) {
      client = { tier: check.record.tier, keyId: check.record.id, limitKey: `key:${check.record.id}` };
    } else if (check.reason === "lookup_failed") {
      // Not a verdict on the key: serve it as anonymous (already charged to its IP above).
      logEvent("warn", "api_key_lookup_failed", { error: check.error, served_as: "anon" });
    } else {
      // One answer for every failure: which keys exist is nobody's business.
      throw new ApiError(
        "invalid_api_key",
        "The X-Api-Key is not valid (unknown, revoked or expired). Omit it to use the anonymous tier.",
      );
    }
  }
  // An anonymous request already charged to its IP (a key that failed to look up) pays once.
  if (chargeRequest && !(chargedToIp && client.tier === "anon") && !chargeRequestTo(c.env, client, Date.now()))
    throw limited(client.tier, LIMITED(client.tier));
  return client;
}

/**
 * Charges one request to `client`: counted in this isolate at once (false once it has spent
 * its tier's limit in this isolate's window, local-limit.ts: a 429 with the headers the
 * binding's refusal has, since neither knows more than the period), and to the deployment-wide
 * binding through `client.chargeShared` if it reaches past memory. The hit lane
 * (src/routes/hit-lane.ts) charges its anonymous requests with this too.
 */
export function chargeRequestTo(env: Env, client: Client, now: number): boolean {
  // Unbound, the deployment runs unlimited (charge() says so in the log): here too.
  if (env[BINDING[client.tier]] && !withinHere(client.limitKey, client.tier, now)) return false;
  client.chargeShared = chargeOnce(env, client);
  return true;
}

/** The deployment-wide charge of one request, made on the first call only. */
function chargeOnce(env: Env, client: Client): () => Promise<void> {
  let charged: Promise<void> | undefined;
  return () => {
    charged ??= charge(env, client.tier, client.limitKey);
    return charged;
  };
}

export const clientLimits = createMiddleware<AppEnv>(async (c, next) => {
  const client = await identifyClient(c, true);
  c.set("client", client);
  addHeader(c, "RateLimit-Policy", requestPolicy(client.tier));
  await next();
});
