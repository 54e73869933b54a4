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
