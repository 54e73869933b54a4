/**
 * The scenarios of issue #26, every data centre simulated (no sampling), with the budget on.
 * `durationS` is what each runs so that `npm run simulate` runs them all in 15 minutes on two
 * cores (bench/SIMULATION.md says what each ran and how long it took): long enough for a
 * sliding minute after the fleet's cold start (every isolate new at time 0) and for each
 * event to start, last and be recovered from. The 1,000 req/s scenarios run 15 minutes, the
 * 10,000 three, the 100,000 seventy-five seconds (the cold start, then a warm quarter
 * minute): what costs time is requests simulated, 7.5 million at 100,000 a second.
 */
const base = { rps: 1000, params: { dataCentres: 50, isolatesPerDc: 2, durationS: 900 } };

export const SCENARIOS = [
  { name: "steady-1k", title: "1,000 req/s over 50 data centres × 2 isolates", ...base },
  {
    name: "steady-10k",
    title: "10,000 req/s over 300 data centres × 4 isolates",
    rps: 10_000,
    params: { dataCentres: 300, isolatesPerDc: 4, durationS: 180 },
  },
  {
    name: "steady-100k",
    title: "100,000 req/s over 300 data centres × 4 isolates",
    rps: 100_000,
    params: { dataCentres: 300, isolatesPerDc: 4, durationS: 75 },
  },
  {
    name: "flash-crowd",
    title: "a new track from 0 to 5,000 req/s in 10 s (held 5 min), over steady-1k",
    ...base,
    flash: { at: 300, rampS: 10, holdS: 300, rps: 5000 },
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
    title: "BeatPass answers 503 for 5 minutes (5:00-10:00), over steady-1k",
    ...base,
    outage: { at: 300, s: 300 },
  },
  {
    name: "keeper-outage",
    title: "every call to the budget keeper fails or times out for 5 minutes (5:00-10:00), over steady-1k",
    ...base,
    keeperOutage: { at: 300, s: 300 },
  },
];
