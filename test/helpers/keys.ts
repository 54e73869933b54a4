import { env } from "cloudflare:test";
import { API_KEY_PREFIX, type ApiKeyRecord, sha256Hex } from "../../src/clients/api-keys";

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
  await env.BEATPASS_CACHE.put(`${API_KEY_PREFIX}${hash}`, JSON.stringify(record));
  return key;
}

export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `bpe_${btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")}`;
}
