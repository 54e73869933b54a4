import { env } from "cloudflare:test";
import type { ApiKeyRecord } from "../../src/clients/api-keys";

/**
 * Where and how `npm run key:create` (scripts/keys.mjs) stores a key: written out here as
 * the script does, not imported from src/, so the Worker and the script cannot drift apart
 * unnoticed.
 */
const KEY_RECORD_PREFIX = "v1:meta:apikey:";

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Stores an API key record the way `npm run key:create` does, and returns the key. */
export async function createKey(overrides: Partial<ApiKeyRecord> = {}, key = randomKey()): Promise<string> {
  const hash = await sha256Hex(key);
  const record: ApiKeyRecord = {
    id: hash.slice(0, 12),
    hash,
    name: "test client",
    tier: "standard",
    created_at: new Date().toISOString(),
    expires_at: null,
    revoked_at: null,
    ...overrides,
  };
  await env.BEATPASS_CACHE.put(`${KEY_RECORD_PREFIX}${hash}`, JSON.stringify(record));
  return key;
}

/** A key as key:create makes them: bpe_ and 32 random bytes in base64url. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `bpe_${btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")}`;
}
