import type { ClientTier } from "../lib/trace";
import { HELD_MS, NEW_VISITOR_SHARE } from "./ledger";

export { NEW_VISITOR_SHARE };

/**
 * Fair shares of the budget by network, under pressure. A client's own miss budget
 * (src/clients/miss-budget.ts) is counted per address; what an attacker cannot cheaply
 * multiply is the network it comes from, so the budget is also shared by network group: an
 * anonymous client's IPv4 /24 or IPv6 /48, a keyed client's key. Once half the budget has
 * been spent in the last minute (PRESSURE_SHARE, as the keeper said at the last renewal;
 * permits leased but unspent do not count), a group may hold at most
 * GROUP_SHARE of the budget's minute, deployment-wide: each isolate enforces it at once from
 * its own spends, and the keeper from every isolate's reports (a group past its share anywhere
 * is refused everywhere from the next renewal on). A few hundred addresses of one network
 * therefore get what one /24 gets. In a quiet minute nobody is capped: a page of cold embeds
 * from one office costs nobody anything.
 *
 * And the last NEW_VISITOR_SHARE of the budget is kept for groups that have not spent in the
 * last minute (new visitors): the keeper leases it only for the newcomers a renewal names
 * (grants.ts), one newcomer per network at a time (permits.ts).
 *
 * Why not request.cf.asn: one ASN is a whole ISP, so its millions of subscribers would share
 * one slice; a /24 is one office, campus or hosting block.
 */
export const GROUP_SHARE: Record<ClientTier, number> = { anon: 0.1, standard: 0.25, partner: 0.5 };
/** The share of the budget spent in the last minute from which groups are held to their shares. */
export const PRESSURE_SHARE = 0.5;

/** The network group of a client, from its limit key (src/clients/ip.ts): never logged. */
export function groupOf(limitKey: string, tier: ClientTier): string {
  if (tier !== "anon" || !limitKey.startsWith("ip:")) return `${tier}|${limitKey}`;
  const ip = limitKey.slice(3);
  const v4 = /^(\d+\.\d+\.\d+)\.\d+$/.exec(ip);
  if (v4) return `anon|${v4[1]}.0/24`;
  const v6 = /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+):[0-9a-f]+::\/64$/.exec(ip);
  if (v6) return `anon|${v6[1]}:${v6[2]}:${v6[3]}::/48`;
  return `anon|${ip}`;
}

/** The tier a group key was made for. */
export function tierOfGroup(group: string): ClientTier {
  const tier = group.slice(0, group.indexOf("|"));
  return tier === "standard" || tier === "partner" ? tier : "anon";
}

/** Permits a group may hold in any window: its share of the budget, at least one. */
export function groupCap(group: string, perMinute: number): number {
  return Math.max(1, Math.floor(GROUP_SHARE[tierOfGroup(group)] * perMinute));
}

/**
 * Spends per group within HELD_MS, oldest first: an isolate's own (for its local check and its
 * reports) or the keeper's (from every report). Bounded by the budget, not by callers: an entry
 * is a permit spent in the last HELD_MS, and no more than the budget are.
 */
export class GroupSpends {
  private readonly spends = new Map<string, number[]>();

  count(group: string, now: number): number {
    return this.live(group, now).length;
  }

  add(group: string, at: number, n = 1): void {
    const times = this.live(group, at);
    for (let i = 0; i < n; i++) times.push(at);
    this.spends.set(group, times);
  }

  /** Groups at or past their cap, with when they fall below it again. */
  capped(now: number, perMinute: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const group of [...this.spends.keys()]) {
      const times = this.live(group, now);
      const cap = groupCap(group, perMinute);
      if (times.length >= cap) out[group] = (times[times.length - cap] as number) + HELD_MS;
      if (times.length === 0) this.spends.delete(group);
    }
    return out;
  }

  get size(): number {
    return this.spends.size;
  }

  clear(): void {
    this.spends.clear();
  }

  private live(group: string, now: number): number[] {
    const times = this.spends.get(group) ?? [];
    let i = 0;
    while (i < times.length && (times[i] as number) <= now - HELD_MS) i++;
    if (i > 0) times.splice(0, i);
    return times;
  }
}
