/**
 * The scenarios of issue #13, each run with the budget keeper off and on. `sample` is the
 * share of data centres simulated in full (every 1/sample-th by traffic rank, from the
 * 1/sample-th busiest, each with its own full share of the traffic; requests to the others
 * are not simulated). The Worker's code costs ~80 µs of Node time per request that is not a
 * memory hit, so the full fleets (10 to 50 million such lookups) would take hours; the
 * sample keeps the whole run near two minutes on two cores. Per-request figures (error and stale shares,
 * KV and keeper calls per 1,000 requests, latency) are those of the simulated data centres;
 * upstream figures are what the simulated part of the fleet sent.
 */
const base = { rps: 1000, params: { dataCentres: 50, isolatesPerDc: 2 } };

export const SCENARIOS = [
  { name: "steady-1k", title: "1,000 req/s over 50 data centres", ...base, sample: 0.1 },
  {
    name: "steady-10k",
    title: "10,000 req/s over 300 data centres × 4 isolates",
    rps: 10_000,
    params: { dataCentres: 300, isolatesPerDc: 4 },
    sample: 0.01,
  },
  {
    name: "flash-crowd",
    title: "a new track from 0 to 5,000 req/s in 10 s (held 10 min), over scenario 1",
    ...base,
    sample: 0.1,
    flash: { at: 600, rampS: 10, holdS: 600, rps: 5000 },
  },
  {
    name: "attackers",
    title: "5% of requests from 100 cache-busting IPs (unique searches, missing ids), over scenario 1",
    ...base,
    sample: 0.1,
    attackShare: 0.05,
    attackerIps: 100,
  },
  {
    name: "outage",
    title: "BeatPass answers 503 for 5 minutes (15:00-20:00), over scenario 1",
    ...base,
    sample: 0.1,
    outage: { at: 900, s: 300 },
  },
];
