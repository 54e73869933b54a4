import type { ClientTier } from "../lib/trace";

/**
 * Requests per period for each client tier. The Workers Rate Limiting bindings enforce the
 * numbers in wrangler.toml; these copies feed the RateLimit-Policy header and the docs, and
 * test/e2e/start.test.ts fails if the two ever differ.
 */
export const TIER_LIMITS: Record<ClientTier, { limit: number; periodSeconds: number }> = {
  anon: { limit: 120, periodSeconds: 60 },
  standard: { limit: 600, periodSeconds: 60 },
  partner: { limit: 3000, periodSeconds: 60 },
};

/**
 * Cache misses (requests that would go to BeatPass) per period for each client tier: what
 * costs the shared upstream budget is misses, not hits. Enforced by the MISS_LIMIT_* bindings
 * in wrangler.toml (src/clients/miss-budget.ts); same rule as above, same test.
 */
export const MISS_LIMITS: Record<ClientTier, { limit: number; periodSeconds: number }> = {
  anon: { limit: 30, periodSeconds: 60 },
  standard: { limit: 120, periodSeconds: 60 },
  partner: { limit: 600, periodSeconds: 60 },
};

/**
 * Card renders (an SVG or PNG card no memo holds, drawn afresh) per period for each client
 * tier: a PNG costs ~37 ms of CPU, its memo hit ~2 ms. Ten-second windows (60 / 240 / 1,200 a
 * minute): a client's burst of renders is a sixth of a minute's, so the isolates drawing it keep
 * serving everyone else (bench/RESULTS.md, "One address asking for 200 PNG cards"). Enforced by
 * the RENDER_LIMIT_* bindings in wrangler.toml (src/clients/render-budget.ts); same rule as
 * above, same test.
 */
export const RENDER_LIMITS: Record<ClientTier, { limit: number; periodSeconds: number }> = {
  anon: { limit: 10, periodSeconds: 10 },
  standard: { limit: 40, periodSeconds: 10 },
  partner: { limit: 200, periodSeconds: 10 },
};

/** A tier's request policy as an item of the RateLimit-Policy header. */
export const requestPolicy = (tier: ClientTier) => REQUEST_POLICIES[tier];

// Sent on every limited response: built once.
const REQUEST_POLICIES = Object.fromEntries(
  Object.entries(TIER_LIMITS).map(([tier, { limit, periodSeconds }]) => [
    tier,
    `"${tier}";q=${limit};w=${periodSeconds}`,
  ]),
) as Record<ClientTier, string>;

/** A tier's miss policy as an item of the RateLimit-Policy header. */
export const missPolicy = (tier: ClientTier) =>
  `"${tier}-misses";q=${MISS_LIMITS[tier].limit};w=${MISS_LIMITS[tier].periodSeconds}`;

/** A tier's render policy as an item of the RateLimit-Policy header. */
export const renderPolicy = (tier: ClientTier) =>
  `"${tier}-renders";q=${RENDER_LIMITS[tier].limit};w=${RENDER_LIMITS[tier].periodSeconds}`;
