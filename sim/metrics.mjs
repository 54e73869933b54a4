/**
 * What the report needs from each viewer request, kept as counts and a latency histogram
 * (millions of requests, constant memory). Attackers are counted apart from viewers; viewer
 * requests during an outage are counted apart too, with whether a copy existed somewhere.
 */
const GROWTH = 1.1;
const bucketOf = (ms) => (ms <= 0.01 ? 0 : Math.max(1, Math.ceil(Math.log(ms / 0.01) / Math.log(GROWTH)) + 1));
const upperOf = (bucket) => (bucket === 0 ? 0 : 0.01 * GROWTH ** (bucket - 1));

function group() {
  return { requests: 0, non2xx: 0, stale: 0, byStatus: {}, latency: [] };
}

export class Metrics {
  viewers = group();
  attackers = group();
  /** Viewer requests answered while BeatPass was in an outage (in `viewers` too). */
  outage = { requests: 0, non2xx: 0, non2xxWithCopy: 0, stale: 0 };

  constructor(outageWindow) {
    this.outageWindow = outageWindow;
  }

  /**
   * `hadCopy()` is asked only for a failed viewer request during an outage: did any copy of
   * the key exist (KV's central store) that could have been served?
   */
  record(cls, status, state, latencyMs, at, hadCopy) {
    const g = cls === "attacker" ? this.attackers : this.viewers;
    g.requests++;
    g.byStatus[status] = (g.byStatus[status] ?? 0) + 1;
    const failed = status < 200 || status >= 300;
    if (failed) g.non2xx++;
    if (state === "stale" || state === "stale-if-error") g.stale++;
    const b = bucketOf(latencyMs);
    g.latency[b] = (g.latency[b] ?? 0) + 1;
    const w = this.outageWindow;
    if (cls !== "attacker" && w && at >= w.from && at < w.to) {
      this.outage.requests++;
      if (state === "stale" || state === "stale-if-error") this.outage.stale++;
      if (failed) {
        this.outage.non2xx++;
        if (hadCopy?.()) this.outage.non2xxWithCopy++;
      }
    }
  }
}

/** The latency (ms, a bucket's upper bound: within 10%) below which a share `q` of `g`'s requests fell. */
export function quantile(g, q) {
  const total = g.latency.reduce((a, b) => a + (b ?? 0), 0);
  let seen = 0;
  for (let b = 0; b < g.latency.length; b++) {
    seen += g.latency[b] ?? 0;
    if (seen >= q * total) return upperOf(b);
  }
  return 0;
}
