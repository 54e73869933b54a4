import * as z from "zod/mini";

/**
 * How long each family of BeatPass data may be served, in three windows measured from the
 * moment it was fetched:
 *
 *   0 ── soft ── hard ──────────── staleIfError
 *   fresh │ stale: served at once,  │ served only when BeatPass fails
 *         │ refreshed in background │ (5xx, timeout, 429, bad payload)
 *
 * BeatPass publishes no cache headers, so these are our choices. Every viewer of every
 * embed shares one token's ~300 requests/minute (docs/beatpass-api/REFERENCE.md §2): that pushes windows up;
 * prices and play counts going stale pushes `soft` down. Overridable per family with the
 * CACHE_POLICY var, e.g. `{"entity":{"soft":120}}`.
 */
export interface FamilyPolicy {
  soft: number;
  hard: number;
  staleIfError: number;
}

export const DEFAULT_POLICY = {
  /** One track, album, artist, playlist, user: edits are rare; 5 min keeps prices current enough. */
  entity: { soft: 300, hard: 3600, staleIfError: 86_400 },
  /** Paged lists: new uploads shift pages, so fresher; a day-old list is still a fine fallback. */
  list: { soft: 120, hard: 900, staleIfError: 21_600 },
  /** Search: the most varied keys and the most "live" expectation; short everywhere. */
  search: { soft: 60, hard: 300, staleIfError: 3600 },
  /** Genres: a near-static taxonomy. */
  taxonomy: { soft: 3600, hard: 86_400, staleIfError: 604_800 },
  /** Lyrics and waveforms: fixed once a track is processed. */
  media: { soft: 86_400, hard: 604_800, staleIfError: 2_592_000 },
  /**
   * BeatPass's 404/410/403, cached as answers: a minute before a repeat may ask again (so a
   * track that appears shows up soon), ten before it must; an id nobody has costs at most
   * one upstream request a minute however often it is asked for.
   */
  negative: { soft: 60, hard: 600, staleIfError: 600 },
} as const satisfies Record<string, FamilyPolicy>;

export type TtlFamily = keyof typeof DEFAULT_POLICY;
export type CachePolicy = Record<TtlFamily, FamilyPolicy>;
export const TTL_FAMILIES = Object.keys(DEFAULT_POLICY) as TtlFamily[];

const seconds = z.number().check(z.int(), z.minimum(1), z.maximum(31_536_000));
const overrideSchema = z.partial(z.strictObject({ soft: seconds, hard: seconds, staleIfError: seconds }));
const policyOverrideSchema = z.partialRecord(z.enum(TTL_FAMILIES as [TtlFamily, ...TtlFamily[]]), overrideSchema);

/** The default windows, as a CachePolicy of its own (a copy: callers may not change the defaults). */
export function defaultPolicy(): CachePolicy {
  return Object.fromEntries(TTL_FAMILIES.map((f) => [f, { ...DEFAULT_POLICY[f] }])) as CachePolicy;
}

/** Merges a CACHE_POLICY override (JSON string or object) over the defaults; windows must nest. */
export function parsePolicy(raw: unknown): { ok: true; policy: CachePolicy } | { ok: false; issue: string } {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, issue: 'CACHE_POLICY is not valid JSON: expected an object such as {"entity":{"soft":120}}' };
    }
  }
  const parsed = policyOverrideSchema.safeParse(value ?? {});
  if (!parsed.success) return { ok: false, issue: `CACHE_POLICY: ${parsed.error.issues[0]?.message ?? "invalid"}` };
  const policy = {} as CachePolicy;
  for (const family of TTL_FAMILIES) {
    const p = { ...DEFAULT_POLICY[family], ...parsed.data[family] };
    if (!(p.soft <= p.hard && p.hard <= p.staleIfError)) {
      return { ok: false, issue: `CACHE_POLICY.${family}: needs soft <= hard <= staleIfError` };
    }
    policy[family] = p;
  }
  return { ok: true, policy };
}
