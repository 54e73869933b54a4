import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { addHeader } from "../http/send";
import { logEvent } from "../lib/log";
import type { Client, ClientTier } from "../lib/trace";
import { checkApiKey } from "./api-keys";
import { TIER_LIMITS } from "./tiers";

/**
 * Who is calling and how much they may: a valid X-Api-Key selects its tier; everyone else is
 * "anon", limited per client IP (CF-Connecting-IP). Limits come from Workers Rate Limiting
 * bindings, one per tier; their numbers live in wrangler.toml and are mirrored in
 * TIER_LIMITS for the RateLimit-Policy header (a test keeps the two in step). A deployment
 * without the bindings runs unlimited and says so once in the log.
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

const policyHeader = (tier: ClientTier) =>
  `"${tier}";q=${TIER_LIMITS[tier].limit};w=${TIER_LIMITS[tier].periodSeconds}`;

export const clientLimits = createMiddleware<AppEnv>(async (c, next) => {
  const presented = c.req.header("X-Api-Key");
  let client: Client = { tier: "anon" };
  let limitKey: string;
  if (presented !== undefined) {
    const check = await checkApiKey(c.env.BEATPASS_CACHE, presented.trim(), Date.now());
    if (!check.ok) {
      // One answer for every failure: which keys exist is nobody's business.
      throw new ApiError(
        "invalid_api_key",
        "The X-Api-Key is not valid (unknown, revoked or expired). Omit it to use the anonymous tier.",
      );
    }
    client = { tier: check.record.tier, keyId: check.record.id };
    limitKey = `key:${check.record.id}`;
  } else {
    limitKey = `ip:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
  }
  c.set("client", client);

  const binding = c.env[BINDING[client.tier]];
  if (!binding) {
    if (!warnedUnbound) logEvent("warn", "rate_limit_unbound", { binding: BINDING[client.tier] });
    warnedUnbound = true;
  } else {
    const { success } = await binding.limit({ key: limitKey });
    if (!success) {
      const { periodSeconds } = TIER_LIMITS[client.tier];
      throw new ApiError(
        "rate_limited",
        `Too many requests for the ${client.tier} tier; slow down or use an API key with a higher tier.`,
        {
          headers: {
            "Retry-After": String(periodSeconds),
            "RateLimit-Policy": policyHeader(client.tier),
            RateLimit: `"${client.tier}";r=0;t=${periodSeconds}`,
          },
        },
      );
    }
  }
  addHeader(c, "RateLimit-Policy", policyHeader(client.tier));
  await next();
});
