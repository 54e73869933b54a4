import type { Env } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import type { Client, ClientTier } from "../lib/trace";
import { RENDER_LIMITS, renderPolicy } from "./tiers";

/**
 * Per-client render budget. Cards are not counted per request (image proxies and office NATs
 * put thousands of viewers behind one address, and a card no one has to draw costs about what
 * a cached JSON answer costs), but drawing one does cost: a PNG ~37 ms of CPU, an SVG with its
 * artwork and font a few, against ~2 ms for the same card from the memo. Random options
 * (`accent`, `width`) make every request a new card, so each client gets RENDER_LIMITS[tier]
 * fresh SVG or PNG renders per period, counted under its limit key like its miss budget (IPv4
 * address or IPv6 /64 for anonymous clients, the key for keyed ones). The widget route calls
 * `admitRender` only when no memo holds the card (or its error card); past the budget the
 * client gets 429 render_budget, while cards already drawn keep being served to it.
 *
 * Enforced by the RENDER_LIMIT_* Workers Rate Limiting bindings (wrangler.toml), like the miss
 * budget (src/clients/miss-budget.ts): one count per client per Cloudflare location, shared
 * by every isolate there. A deployment without them admits every render and says so once in
 * the log.
 */

const BINDING: Record<ClientTier, "RENDER_LIMIT_ANON" | "RENDER_LIMIT_STANDARD" | "RENDER_LIMIT_PARTNER"> = {
  anon: "RENDER_LIMIT_ANON",
  standard: "RENDER_LIMIT_STANDARD",
  partner: "RENDER_LIMIT_PARTNER",
};

let warnedUnbound = false;

/** Charges one render to the client; throws 429 render_budget when its budget is spent. */
export async function admitRender(env: Env, client: Client): Promise<void> {
  const name = BINDING[client.tier];
  const binding = env[name];
  if (!binding) {
    if (!warnedUnbound) logEvent("warn", "render_limit_unbound", { binding: name });
    warnedUnbound = true;
    return;
  }
  const { success } = await binding.limit({ key: client.limitKey });
  if (success) return;
  const { limit, periodSeconds } = RENDER_LIMITS[client.tier];
  throw new ApiError(
    "render_budget",
    `This client has had too many cards drawn afresh in the last ${periodSeconds} seconds (${limit} SVG or PNG renders for the ${client.tier} tier). Cards already drawn are still served; retry after Retry-After, keep card options fixed, or use an API key with a higher tier.`,
    {
      headers: {
        "Retry-After": String(periodSeconds),
        "RateLimit-Policy": renderPolicy(client.tier),
        RateLimit: `"${client.tier}-renders";r=0;t=${periodSeconds}`,
      },
    },
  );
}

/** Forgets that the missing-binding warning was logged (tests). */
export function resetRenderBudget(): void {
  warnedUnbound = false;
}
