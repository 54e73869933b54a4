/**
 * Workers Rate Limiting windows (miniflare's too) are aligned to the wall-clock minute and
 * roll over for every client at once. A burst that crossed a minute boundary is repeated once
 * (the caller uses new clients each attempt): a burst takes seconds, so the second one lies
 * inside a single window.
 */
export async function inOneWindow<T>(burst: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const minute = Math.floor(Date.now() / 60_000);
    const result = await burst(attempt);
    if (Math.floor(Date.now() / 60_000) === minute || attempt === 2) return result;
  }
}
