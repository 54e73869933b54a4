import { stringBytes } from "../lib/byte-lru";
import { logEvent } from "../lib/log";
import { memo } from "../lib/memo-budget";

/**
 * When the proxy first saw each undated entry of a feed. BeatPass dates tracks and albums
 * (created_at, release_date), but the public tier may leave them out; a feed entry without a
 * date would otherwise be dated by the request, and every poll would show old beats as new.
 *
 * An undated entry is dated by the fetch time of the cached list it was first found in, not
 * by the clock: every isolate serving the same cached list computes the same date, so the
 * record below only has to survive that list's refresh. It is kept in KV (one key per feed,
 * `v1:feed-seen:<kind>:<name>`), so a restart or another isolate keeps the same dates; and
 * it is written only when a feed gains an undated entry or the record nears its expiry,
 * at most once a second per key (KV's limit), never on a poll that changes nothing.
 */

export interface SeenRecord {
  /** When this record was last written (ms). */
  w: number;
  /** Entry id -> first seen (ms). */
  s: Record<string, number>;
}

/** Kept a month after its last write (KV's TTL must be at least 60 s). */
export const SEEN_TTL_SECONDS = 31 * 86_400;
/** Rewritten when older than this, so a record in use never expires under its entries. */
export const SEEN_REWRITE_MS = 7 * 86_400_000;

export const seenKey = (kind: string, name: string) => `v1:feed-seen:${kind}:${name}`;

// Records by key, with when this isolate last wrote each (KV refuses a second write to a key
// within a second): a feed polled here reads KV only when it gains an undated entry.
const records = memo<{ r: SeenRecord; wroteAt: number }>("feed-seen", {
  sizeOf: (v, key) => stringBytes(key) + 96 + Object.keys(v.r.s).length * 96,
});

async function readRecord(kv: KVNamespace, key: string): Promise<SeenRecord | undefined> {
  try {
    const r = await kv.get<SeenRecord>(key, "json");
    return r && typeof r.w === "number" && r.s && typeof r.s === "object" ? r : undefined;
  } catch (err) {
    logEvent("warn", "feed_seen_read_failed", { error: String(err) });
    return undefined;
  }
}

/**
 * The first-seen time of each undated entry (`undated`: id -> fetch time of the list it is
 * in now). Records new ones and writes the record back (in the background) when it changed.
 */
export async function firstSeen(
  kv: KVNamespace,
  key: string,
  undated: Map<string, number>,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<(id: string) => number | undefined> {
  if (undated.size === 0) return () => undefined;
  const held = records.get(key);
  let record = held?.r;
  const knowsAll = (r: SeenRecord | undefined) => r !== undefined && [...undated.keys()].every((id) => id in r.s);
  // Another isolate may have seen the new entry first: its date wins, so ask KV before adding one.
  if (!knowsAll(record)) record = (await readRecord(kv, key)) ?? record;
  const s: Record<string, number> = {};
  let changed = record === undefined || now - record.w > SEEN_REWRITE_MS;
  for (const [id, observed] of undated) {
    const known = record?.s[id];
    s[id] = typeof known === "number" ? known : observed;
    if (typeof known !== "number") changed = true;
  }
  if (!changed) {
    if (record && record !== held?.r) records.set(key, { r: record, wroteAt: held?.wroteAt ?? 0 });
  } else if (now - (held?.wroteAt ?? Number.NEGATIVE_INFINITY) >= 1000) {
    // Only the entries the feed holds now: an entry that left and comes back is new again.
    const next: SeenRecord = { w: now, s };
    records.set(key, { r: next, wroteAt: now });
    waitUntil(
      kv
        .put(key, JSON.stringify(next), { expirationTtl: SEEN_TTL_SECONDS })
        .catch((err: unknown) => logEvent("warn", "feed_seen_write_failed", { error: String(err) })),
    );
  }
  // Written within the last second: nothing is kept, so the next request writes it.
  return (id) => s[id];
}
