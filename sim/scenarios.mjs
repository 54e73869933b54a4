/**
 * The scenarios of issue #26, every data centre simulated (no sampling), with the budget on.
 * `durationS` is what each runs so that `npm run simulate` fits in 15 minutes on two cores
 * (bench/SIMULATION.md says what each ran); a `separate` scenario does not fit and is run on
 * its own (sim/run.mjs).
 */
const base = { rps: 1000, params: { dataCentres: 50, isolatesPerDc: 2, durationS: 1800 } };

export const SCENARIOS = [
  { name: "steady-1k", title: "1,000 req/s over 50 data centres × 2 isolates", ...base },
  {
    name: "steady-10k",
    title: "10,000 req/s over 300 data centres × 4 isolates",
    rps: 10_000,
    params: { dataCentres: 300, isolatesPerDc: 4, durationS: 360 },
  },
  {
    name: "steady-100k",
    title: "100,000 req/s over 300 data centres × 4 isolates",
    rps: 100_000,
    params: { dataCentres: 300, isolatesPerDc: 4, durationS: 180 },
    // ~40 minutes on one core: `npm run simulate -- --only steady-100k`.
    separate: true,
  },
  {
    name: "flash-crowd",
    title: "a new track from 0 to 5,000 req/s in 10 s (held 10 min), over steady-1k",
    ...base,
    flash: { at: 600, rampS: 10, holdS: 600, rps: 5000 },
  },
  {
    name: "attackers",
    title: "5% of requests from 1,000 cache-busting addresses in 4 networks (/24s), over steady-1k",
    ...base,
    attackShare: 0.05,
    attackNetworks: 4,
    attackerIps: 1000,
  },
  {
    name: "beatpass-outage",
    title: "BeatPass answers 503 for 5 minutes (15:00-20:00), over steady-1k",
    ...base,
    outage: { at: 900, s: 300 },
  },
  {
    name: "keeper-outage",
    title: "every call to the budget keeper fails or times out for 5 minutes (15:00-20:00), over steady-1k",
    ...base,
    keeperOutage: { at: 900, s: 300 },
  },
];
