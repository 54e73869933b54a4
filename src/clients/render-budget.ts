import type { Env } from "../env";
import { ApiError } from "../errors";
import { stringBytes } from "../lib/byte-lru";
import { logEvent } from "../lib/log";
import { memo } from "../lib/memo-budget";
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
 *
 * A client past its budget is remembered here for REMEMBERED_MS, so its next requests are
 * refused without a binding call; and every refusal is sent only after REFUSAL_PAUSE_MS
 * (`pauseRefusal`). Refusing costs CPU too, and a client that ignores Retry-After and keeps
 * several requests in flight would otherwise spend the isolate's time being refused while
 * other clients' requests wait behind it (bench/RESULTS.md, "One address asking for 200 PNG
 * cards"). A pause costs no CPU, only an open request: at most MAX_PAUSED at once per isolate.
 */

const BINDING: Record<ClientTier, "RENDER_LIMIT_ANON" | "RENDER_LIMIT_STANDARD" | "RENDER_LIMIT_PARTNER"> = {
  anon: "RENDER_LIMIT_ANON",
  standard: "RENDER_LIMIT_STANDARD",
  partner: "RENDER_LIMIT_PARTNER",
};

/** Short against the period: a window may end sooner, and this isolate then refuses at most this much longer. */
export const REMEMBERED_MS = 1000;
export const REFUSAL_PAUSE_MS = 250;
export const MAX_PAUSED = 256;

let warnedUnbound = false;
let paused = 0;
/** When each refused client (by limit key) may be asked about again. */
const refusedUntil = memo<number>("render-refusals", { sizeOf: (_, key) => stringBytes(key) + 16 });

/** Charges one render to the client; throws 429 render_budget when its budget is spent. */
export async function admitRender(env: Env, client: Client): Promise<void> {
  const name = BINDING[client.tier];
  const binding = env[name];
  if (!binding) {
    if (!warnedUnbound) logEvent("warn", "render_limit_unbound", { binding: name });
    warnedUnbound = true;
    return;
  }
  if ((refusedUntil.get(client.limitKey) ?? 0) <= Date.now()) {
    const { success } = await binding.limit({ key: client.limitKey });
    if (success) return;
    refusedUntil.set(client.limitKey, Date.now() + REMEMBERED_MS);
  }
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

/** Waits REFUSAL_PAUSE_MS before a refusal is sent (unless MAX_PAUSED are already waiting). */
export async function pauseRefusal(): Promise<void> {
  if (paused >= MAX_PAUSED) return;
  paused++;
  try {
    await new Promise((resolve) => setTimeout(resolve, REFUSAL_PAUSE_MS));
  } finally {
    paused--;
  }
}

/** Forgets that the missing-binding warning was logged, and every remembered refusal (tests). */
export function resetRenderBudget(): void {
  warnedUnbound = false;
  refusedUntil.clear();
}
