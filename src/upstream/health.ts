/** BeatPass's X-RateLimit-* headers of its last answer, and its last failure: for /healthz and refresh-ahead. */
export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  resetAt?: number;
}

export const upstreamHealth: {
  rateLimit?: RateLimitInfo & { seenAt: number };
  lastError?: { code: string; at: number };
} = {};

export function recordRateLimit(info: RateLimitInfo, now: number): void {
  if (info.remaining !== undefined || info.limit !== undefined) upstreamHealth.rateLimit = { ...info, seenAt: now };
}

export function recordError(code: string, now: number): void {
  upstreamHealth.lastError = { code, at: now };
}

/** Forgets what was seen (tests). */
export function resetUpstreamHealth(): void {
  delete upstreamHealth.rateLimit;
  delete upstreamHealth.lastError;
}
