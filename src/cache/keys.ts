/**
 * KV keys: `<version>:<route>:<canonical params>`. Bump KEY_VERSION whenever the stored
 * shape changes, so old entries are simply never read again (they expire on their own).
 */
export const KEY_VERSION = "v1";

// KV allows 512 bytes per key; past this we key on a hash of the params instead.
const MAX_PLAIN_KEY_BYTES = 400;

export type KeyParams = Record<string, string | number | undefined>;

/** Canonical query string: sorted names, undefined dropped, values percent-encoded. */
export function canonicalParams(params: KeyParams): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
}

/** Builds the cache key for one route and its validated parameters. */
export async function cacheKey(route: string, params: KeyParams): Promise<string> {
  const plain = `${KEY_VERSION}:${route}:${canonicalParams(params)}`;
  // A UTF-16 unit is at most 3 UTF-8 bytes: most keys need no encoding to be measured.
  if (plain.length * 3 <= MAX_PLAIN_KEY_BYTES || new TextEncoder().encode(plain).byteLength <= MAX_PLAIN_KEY_BYTES)
    return plain;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalParams(params)));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${KEY_VERSION}:${route}:sha256=${hex}`;
}

/** Splits a key built by cacheKey back into route and params; undefined for hashed or foreign keys. */
export function parseKey(key: string): { route: string; params: Record<string, string> } | undefined {
  const m = /^([^:]+):([a-z-]+):(.*)$/.exec(key);
  if (!m || m[1] !== KEY_VERSION || m[3]?.startsWith("sha256=")) return undefined;
  const params: Record<string, string> = {};
  for (const part of (m[3] ?? "").split("&").filter(Boolean)) {
    const [k, v = ""] = part.split("=");
    if (k) params[decodeURIComponent(k)] = decodeURIComponent(v);
  }
  return { route: m[2] ?? "", params };
}

/**
 * A cache key as it may appear in a log line: the route and parameter names, numeric values
 * (ids, pages) kept, every other value dropped. Search terms and tag names are what people
 * typed, and the README promises they are not logged.
 */
export function loggableKey(key: string): string {
  const parsed = parseKey(key);
  if (!parsed) return key.replace(/:sha256=[0-9a-f]+$/, ":sha256");
  const params = Object.entries(parsed.params)
    .map(([k, v]) => `${k}=${/^\d{1,12}$/.test(v) ? v : "*"}`)
    .join("&");
  return `${KEY_VERSION}:${parsed.route}:${params}`;
}
