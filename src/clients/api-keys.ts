import { logEvent } from "../lib/log";
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

const memo = new Map<string, { record: ApiKeyRecord | null; at: number }>();

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
  | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired" };

/** Checks a presented key against the stored hashes. */
export async function checkApiKey(kv: KVNamespace, presented: string, now: number): Promise<KeyCheck> {
  if (!API_KEY_PATTERN.test(presented)) return { ok: false, reason: "malformed" };
  const hash = await sha256Hex(presented);
  let hit = memo.get(hash);
  if (!hit || now - hit.at > KEY_MEMO_MS) {
    let record: ApiKeyRecord | null = null;
    try {
      record = await kv.get<ApiKeyRecord>(`${API_KEY_PREFIX}${hash}`, "json");
    } catch (err) {
      logEvent("warn", "api_key_read_failed", { error: String(err) });
    }
    hit = { record, at: now };
    if (memo.size > 10_000) memo.clear();
    memo.set(hash, hit);
  }
  const record = hit.record;
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
