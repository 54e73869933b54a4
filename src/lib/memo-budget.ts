import { ByteLru, type ByteLruOptions } from "./byte-lru";
import { SecondRequestLru, type SecondRequestLruOptions } from "./doorkeeper";

/**
 * Every in-isolate memo whose keys a caller can vary, with its share of the heap. An isolate
 * has 128 MB for everything (code, request buffers, parsed JSON, these memos); the memos
 * together get at most a quarter of it, so no mix of requests can push an isolate out.
 * A module creates its memo with `memo()` (or registers its own with `registerMemo`), and
 * this module imports no other module of the Worker, so anything may import it.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

export const MEMO_BUDGET_BYTES = {
  // Cached catalog bodies (cache/memory.ts): every hit it serves saves a Cache API or KV read.
  "memory-tier": 16 * MiB,
  // Rendered cards and error cards (routes/card-memo.ts), kept as bytes: an SVG card inlines up
  // to 96 KiB of artwork, about 135 KB, so ~45 of those or ~800 HTML cards of 7 KB. A new
  // card waits in 2 MiB of probation until its second request (lib/doorkeeper.ts, 16 KiB of
  // it remembering recent keys), so a flood of one-off options cannot push out the rest.
  cards: 8 * MiB,
  // Validated /v1 parameters by normalized key (routes/catalog.ts): ~300 B each, ~7,000 of them.
  validated: 2 * MiB,
  // KV write times per cache key (cache/tiers.ts): matters only for the last second's keys.
  "last-kv-write": 1 * MiB,
  // Hit counts per cache key between flushes (cache/hot.ts): hot keys are touched often, so stay.
  "hot-keys": 1 * MiB,
  // API key records by hash, found or not (clients/api-keys.ts): ~250 B each, ~4,000 of them.
  "api-keys": 1 * MiB,
  // Validated widget options by their raw known parameters (routes/widgets.ts).
  "widget-options": 256 * KiB,
  // CSP hashes of a card's theme stylesheet (routes/widgets.ts): one per theme and accent in use.
  "csp-hashes": 256 * KiB,
  // Limit keys by CF-Connecting-IP (clients/ip.ts): ~200 B each as counted, ~1,300 addresses.
  "ip-keys": 256 * KiB,
  // Request counts per client in this isolate's window (clients/local-limit.ts): ~130 B each
  // as counted, ~2,000 clients a minute; the least recently seen go first.
  "local-limits": 256 * KiB,
  // Clients refused a render in the last second (clients/render-budget.ts): ~80 B each as counted.
  "render-refusals": 64 * KiB,
  // Built feeds by their inputs (routes/feeds.ts): a 50-entry feed is 30-60 KB, so ~20 feeds.
  feeds: 1 * MiB,
  // First-seen records of feeds with undated entries (feeds/seen.ts): ~100 B per entry.
  "feed-seen": 256 * KiB,
} as const;

export type MemoName = keyof typeof MEMO_BUDGET_BYTES;

/** The sum of every budget (≤ 32 MiB). */
export const MEMO_TOTAL_BYTES = Object.values(MEMO_BUDGET_BYTES).reduce((a, b) => a + b, 0);

/** What the registry needs of a memo: its live estimate, and a way to empty it (tests). */
export interface Measured {
  readonly bytes: number;
  clear(): void;
}

// One slot per name in the table above: bounded by construction.
const registry = new Map<MemoName, Measured>();

/** Makes `name` report `m` (a module's single instance; registering again replaces it). */
export function registerMemo(name: MemoName, m: Measured): void {
  registry.set(name, m);
}

/** A ByteLru with `name`'s budget, registered under that name. */
export function memo<V>(name: MemoName, options: Omit<ByteLruOptions<V>, "maxBytes">): ByteLru<V> {
  const lru = new ByteLru<V>({ ...options, maxBytes: MEMO_BUDGET_BYTES[name] });
  registerMemo(name, lru);
  return lru;
}

/**
 * A SecondRequestLru (lib/doorkeeper.ts) within `name`'s budget, registered under that name:
 * for memos a caller can flood with keys asked for once.
 */
export function secondRequestMemo<V>(
  name: MemoName,
  options: Omit<SecondRequestLruOptions<V>, "maxBytes">,
): SecondRequestLru<V> {
  const lru = new SecondRequestLru<V>({ ...options, maxBytes: MEMO_BUDGET_BYTES[name] });
  registerMemo(name, lru);
  return lru;
}

/** Live estimates: every memo in the table (0 when its module is not loaded) and their sum. */
export function memoBytes(): { total: number; byMemo: Record<MemoName, number> } {
  const byMemo = {} as Record<MemoName, number>;
  let total = 0;
  for (const name of Object.keys(MEMO_BUDGET_BYTES) as MemoName[]) {
    const bytes = registry.get(name)?.bytes ?? 0;
    byMemo[name] = bytes;
    total += bytes;
  }
  return { total, byMemo };
}

/** Empties every registered memo, as in a fresh isolate (tests). */
export function resetMemos(): void {
  for (const m of registry.values()) m.clear();
}
