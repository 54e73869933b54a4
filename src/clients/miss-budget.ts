import type { Env } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import type { Client, ClientTier } from "../lib/trace";
import { MISS_LIMITS, missPolicy, requestPolicy } from "./tiers";

/**
 * Per-client miss budget. What costs BeatPass's shared ~300 requests a minute is misses, not
 * hits: a client that asks only for cached data costs nothing upstream, however fast it asks
 * (its request limit, src/clients/limits.ts, covers that). A client walking through uncached
 * keys (every search term, every track id) spends the budget every viewer shares, so each
 * client gets MISS_LIMITS[tier] misses per period, counted under its limit key (IPv4 address
 * or IPv6 /64 for anonymous clients, the key for keyed ones). The cache engine calls
 * `admitMiss` only when a request would go upstream; past the budget the client gets 429
 * client_miss_budget, while cached data keeps being served to it.
 *
 * Enforced by the MISS_LIMIT_* Workers Rate Limiting bindings (wrangler.toml); a deployment
 * without them admits every miss and says so once in the log.
 */

const BINDING: Record<ClientTier, "MISS_LIMIT_ANON" | "MISS_LIMIT_STANDARD" | "MISS_LIMIT_PARTNER"> = {
  anon: "MISS_LIMIT_ANON",
  standard: "MISS_LIMIT_STANDARD",
  partner: "MISS_LIMIT_PARTNER",
};

let warnedUnbound = false;

/** Charges one miss to the client; throws 429 client_miss_budget when its budget is spent. */
export async function admitMiss(env: Env, client: Client): Promise<void> {
  const name = BINDING[client.tier];
  const binding = env[name];
  if (!binding) {
    if (!warnedUnbound) logEvent("warn", "miss_limit_unbound", { binding: name });
    warnedUnbound = true;
    return;
  }
  const { success } = await binding.limit({ key: client.limitKey });
  if (success) return;
  const { limit, periodSeconds } = MISS_LIMITS[client.tier];
  throw new ApiError(
    "client_miss_budget",
    `This client has caused too many uncached requests this minute (${limit} for the ${client.tier} tier). Cached data is still served; retry uncached requests after Retry-After, or use an API key with a higher tier.`,
    {
      headers: {
        "Retry-After": String(periodSeconds),
        "RateLimit-Policy": `${requestPolicy(client.tier)}, ${missPolicy(client.tier)}`,
        RateLimit: `"${client.tier}-misses";r=0;t=${periodSeconds}`,
      },
    },
  );
}

/** Forgets that the missing-binding warning was logged (tests). */
export function resetMissBudget(): void {
  warnedUnbound = false;
}
