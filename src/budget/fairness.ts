import type { ClientTier } from "../lib/trace";
import { type BudgetWindow, HELD_MS } from "./window";

/**
 * Fair shares of the budget under pressure. Each client's miss budget (src/clients/miss-budget.ts)
 * is counted per data centre and per client; cache-busting clients together can still ask for
 * more than BeatPass's minute, and a viewer's miss for a key whose copy has expired would then
 * lose the window to them. So once the window is half spent, the keeper grants a viewer's miss
 * only to a client holding less than its tier's share of the window: a client asking for
 * one uncached key now and then never meets the cap; one walking through keys does, and gets
 * 429 client_miss_budget (cached data still served to it).
 *
 * Every number here is a share of the budget, so it scales with UPSTREAM_BUDGET_PER_MINUTE.
 * Held in the keeper's memory only: after a restart shares start empty, which errs towards granting.
 */

/** The share of the window spent from which shares are enforced. */
export const PRESSURE_SHARE = 0.5;
/** The share of the window one client may hold under pressure (at least one permit). */
export const CLIENT_SHARE: Record<ClientTier, number> = { anon: 0.01, standard: 0.1, partner: 0.25 };

export interface ClientRef {
  /** What its limits are counted under (Client.limitKey): never logged. */
  key: string;
  tier: ClientTier;
}

export type ShareDecision = { ok: true } | { ok: false; retryAfterMs: number };

export class ClientShares {
  /** Grant times per client, oldest first, within HELD_MS. */
  private readonly grants = new Map<string, number[]>();

  /** Whether `client` may take a viewer's permit now, given the window (pruned) it would come from. */
  decide(w: BudgetWindow, client: ClientRef, now: number, perMinute: number): ShareDecision {
    if (w.grants.length < PRESSURE_SHARE * perMinute) return { ok: true };
    const held = this.live(client.key, now);
    const cap = Math.max(1, Math.floor(CLIENT_SHARE[client.tier] * perMinute));
    if (held.length < cap) return { ok: true };
    // Its own oldest permits must age out first.
    const freeing = held[held.length - cap] as number;
    return { ok: false, retryAfterMs: Math.max(1, freeing + HELD_MS - now) };
  }

  record(client: ClientRef, now: number): void {
    const held = this.live(client.key, now);
    held.push(now);
    this.grants.set(client.key, held);
    // At most one entry per permit in the window: sweep clients whose permits have all aged out.
    if (this.grants.size > 64 && this.grants.size % 64 === 0) {
      for (const [key, times] of this.grants) if ((times.at(-1) as number) <= now - HELD_MS) this.grants.delete(key);
    }
  }

  get size(): number {
    return this.grants.size;
  }

  private live(key: string, now: number): number[] {
    const times = this.grants.get(key);
    if (!times) return [];
    let i = 0;
    while (i < times.length && (times[i] as number) <= now - HELD_MS) i++;
    if (i > 0) times.splice(0, i);
    return times;
  }
}
