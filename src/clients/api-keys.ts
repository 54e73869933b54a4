import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { memo as boundedMemo } from "../lib/memo-budget";
import type { ClientTier } from "../lib/trace";

/**
 * API keys for server-to-server callers (sent as X-Api-Key). Only a SHA-256 of each key is
 * stored, in KV under `v1:meta:apikey:<hash hex>` with its name, tier and optional expiry, so
 * a leaked KV dump reveals no usable key. Keys only change a caller's limits, never the data.
 * Records are remembered per isolate for KEY_MEMO_MS, so a revocation takes effect within
 * that (plus KV's up-to-60 s propagation) everywhere.
 */
export const API_KEY_PREFIX = "v1:meta:apikey:";
export const KEY_MEMO_MS = 60_000;
/** bpe_ + 43 base64url characters (32 random bytes); anything else is refused before hashing. */
export const API_KEY_PATTERN = /^bpe_[A-Za-z0-9_-]{43}$/;

export interface ApiKeyRecord {
  /** The first 12 hex digits of the hash: safe to show and log, used by key:revoke. */
  id: string;
  hash: string;
  name: string;
  tier: Exclude<ClientTier, "anon">;
  created_at: string;
  expires_at?: string | null;
  revoked_at?: string | null;
}

// Records by key hash, found or not: random well-formed keys each leave an entry, so bytes bound it (LRU).
const memo = boundedMemo<{ record: ApiKeyRecord | null; at: number }>("api-keys", {
  sizeOf: (v) => SMALL_OBJECT_BYTES + (v.record ? SMALL_OBJECT_BYTES + stringBytes(JSON.stringify(v.record)) : 0),
});

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two same-length hex strings (lengths are public: both are hashes). */
function sameHash(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  if (ea.byteLength !== eb.byteLength) return false;
  return crypto.subtle.timingSafeEqual(ea, eb);
}

export type KeyCheck =
  | { ok: true; record: ApiKeyRecord }
  | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired" }
  /** KV could not be read: not an answer about the key, and not remembered. */
  | { ok: false; reason: "lookup_failed"; error: string };

/**
 * What this isolate already knows about a presented key, without reading KV: its check if a
 * record (or its absence) is remembered and still fresh, or `undefined` if only KV can tell.
 * Callers charge unknown keys to the caller's IP before paying for that KV read.
 */
export async function rememberedApiKey(presented: string, now: number): Promise<KeyCheck | undefined> {
  if (!API_KEY_PATTERN.test(presented)) return { ok: false, reason: "malformed" };
  const hash = await sha256Hex(presented);
  const hit = memo.get(hash);
  if (!hit || now - hit.at > KEY_MEMO_MS) return undefined;
  return judge(hit.record, hash, now);
}

/** Checks a presented key against the stored hashes. */
export async function checkApiKey(kv: KVNamespace, presented: string, now: number): Promise<KeyCheck> {
  if (!API_KEY_PATTERN.test(presented)) return { ok: false, reason: "malformed" };
  const hash = await sha256Hex(presented);
  let hit = memo.get(hash);
  if (!hit || now - hit.at > KEY_MEMO_MS) {
    let record: ApiKeyRecord | null;
    try {
      record = await kv.get<ApiKeyRecord>(`${API_KEY_PREFIX}${hash}`, "json");
    } catch (err) {
      // A failed read says nothing about the key: remembering it as "no such key" would refuse
      // a valid key for KEY_MEMO_MS. The next request reads again; the caller decides what to
      // serve meanwhile (and logs it).
      return { ok: false, reason: "lookup_failed", error: String(err) };
    }
    hit = { record, at: now };
    memo.set(hash, hit);
  }
  return judge(hit.record, hash, now);
}

function judge(record: ApiKeyRecord | null, hash: string, now: number): KeyCheck {
  // The KV lookup already selected by hash; comparing the stored hash as well keeps a
  // corrupted or hand-edited record from admitting a different key.
  if (!record || typeof record.hash !== "string" || !sameHash(record.hash, hash))
    return { ok: false, reason: "unknown" };
  if (record.revoked_at) return { ok: false, reason: "revoked" };
  if (record.expires_at && Date.parse(record.expires_at) <= now) return { ok: false, reason: "expired" };
  return { ok: true, record };
}

/** Forgets remembered records (tests). */
export function resetApiKeyMemo(): void {
  memo.clear();
}
