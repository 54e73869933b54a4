/**
 * What the keeper saw over the last hour, per minute, for the operator's /healthz: renewals,
 * permits granted and spent, refusals (reported by the isolates that decided them), pauses.
 */
export interface MinuteStats {
  renewals: number;
  granted: number;
  spent: number;
  refusedViewer: number;
  refusedBackground: number;
  pauses: number;
}

const MINUTE_MS = 60_000;
const MINUTES = 60;
const empty = (): MinuteStats => ({
  renewals: 0,
  granted: 0,
  spent: 0,
  refusedViewer: 0,
  refusedBackground: 0,
  pauses: 0,
});

export class KeeperStats {
  private readonly minutes = new Map<number, MinuteStats>();

  record(now: number, add: Partial<MinuteStats>): void {
    const m = Math.floor(now / MINUTE_MS);
    const row = this.minutes.get(m) ?? empty();
    for (const [k, v] of Object.entries(add) as [keyof MinuteStats, number][]) row[k] += v;
    this.minutes.set(m, row);
    for (const key of this.minutes.keys()) if (key <= m - MINUTES) this.minutes.delete(key);
  }

  /** Sums over the last hour. */
  lastHour(now: number): MinuteStats {
    const m = Math.floor(now / MINUTE_MS);
    const sum = empty();
    for (const [key, row] of this.minutes) {
      if (key <= m - MINUTES) continue;
      for (const k of Object.keys(sum) as (keyof MinuteStats)[]) sum[k] += row[k];
    }
    return sum;
  }
}
