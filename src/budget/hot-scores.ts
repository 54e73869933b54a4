/**
 * The deployment's hot keys, kept by the keeper (it used to be one shared KV record that every
 * isolate rewrote, past KV's one write per second per key at scale). Each isolate folds in its
 * counts every few minutes (src/cache/hot.ts); scores halve every HALF_LIFE_MS, so the list
 * follows current traffic; refresh-ahead reads the top of it.
 */
export const HALF_LIFE_MS = 5 * 60_000;
/** Keys kept at most: refresh-ahead reads 100, the rest is room for newcomers to climb. */
export const HOT_KEEP = 1_000;

export class HotScores {
  /** Score per key, as of `at` (decayed lazily). */
  readonly scores: Record<string, number>;
  private at: number;

  constructor(scores: Record<string, number>, at = Date.now()) {
    this.scores = scores;
    this.at = at;
  }

  fold(counts: [string, number][], now: number): void {
    this.decay(now);
    for (const [key, n] of counts) this.scores[key] = (this.scores[key] ?? 0) + n;
    const keys = Object.keys(this.scores);
    if (keys.length <= HOT_KEEP) return;
    keys.sort((a, b) => (this.scores[b] ?? 0) - (this.scores[a] ?? 0));
    for (const key of keys.slice(HOT_KEEP)) delete this.scores[key];
  }

  top(limit: number, now: number): string[] {
    this.decay(now);
    return Object.entries(this.scores)
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([key]) => key);
  }

  private decay(now: number): void {
    if (now <= this.at) return;
    const factor = 0.5 ** ((now - this.at) / HALF_LIFE_MS);
    for (const key of Object.keys(this.scores)) this.scores[key] = (this.scores[key] ?? 0) * factor;
    this.at = now;
  }
}
