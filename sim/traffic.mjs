import { exponential, weighted, zipf, zipfWeights } from "./random.mjs";

/**
 * Who asks for what, when. A catalogue of `keys` popular URLs, ranked by Zipf(`keySkew`), each
 * rank a route drawn from `routeMix`; arrivals are Poisson at the scenario's rate, which
 * scenario events change (a flash crowd's ramp); a share of requests may come from
 * cache-busting attackers, each asking for a URL nobody asked for before.
 */

/** Track ids the fake BeatPass has (fake/beatpass.mjs synthesizes 1..100000). */
const TRACK_IDS = 100_000;
const ALBUM_IDS = 10;
const ARTIST_IDS = 12;
const LIST_PAGES = 10;

/** The ranks' requests: each a list of route reads ({ route, raw }), the first primary. */
export function catalogueRequests(p, random) {
  const mix = Object.entries(p.routeMix);
  const counters = {};
  // Spread ids over the whole range so popular tracks are not all low numbers.
  const trackId = (n) => 1 + ((n * 7919) % TRACK_IDS);
  const make = {
    track: (n) => [{ route: "track", raw: { id: String(trackId(n)) } }],
    // A card reads the track (the same cached entry as the JSON route) and its waveform.
    card: (n) => [
      { route: "track", raw: { id: String(trackId(n)) } },
      { route: "track-wave", raw: { id: String(trackId(n)) } },
    ],
    album: (n) => [{ route: "album", raw: { id: String(1 + (n % ALBUM_IDS)) } }],
    artist: (n) => [{ route: "artist", raw: { id: String(1 + (n % ARTIST_IDS)) } }],
    list: (n) => [{ route: "tracks", raw: { page: String(1 + (n % LIST_PAGES)) } }],
    search: (n) => [{ route: "search", raw: { query: `beat ${n}` } }],
  };
  const out = [];
  for (let rank = 0; rank < p.keys; rank++) {
    let u = random();
    let kind = mix[mix.length - 1][0];
    for (const [k, share] of mix) {
      if (u < share) {
        kind = k;
        break;
      }
      u -= share;
    }
    const n = counters[kind] ?? 0;
    counters[kind] = n + 1;
    out.push({ kind, reads: make[kind](n) });
  }
  return out;
}

/** The flash crowd's track: one the catalogue never asks for. */
export const FLASH_TRACK_ID = 99_991;

export class Traffic {
  attackCounter = 0;

  /**
   * Only requests that land in a simulated data centre are generated: each arrival process
   * thinned to them is Poisson again, at the rate times their share (the sample's data centres
   * get exactly the traffic they would in the full fleet, without drawing the rest).
   *
   * @param scenario { rps, flash?: { at, rampS, holdS, rps }, attackShare?, attackerIps? }
   * @param ranks    resolved catalogue entries: { lookups } by rank
   * @param flashLookups the flash track's lookups
   * @param origin       time 0 of the run (ms); scenario times count from it
   * @param simulatedDcs indices of the simulated data centres (ranked by traffic, 0 busiest)
   */
  constructor(p, scenario, random, ranks, flashLookups, origin, simulatedDcs) {
    this.p = p;
    this.s = scenario;
    this.random = random;
    this.ranks = ranks;
    this.flashLookups = flashLookups;
    this.pickRank = zipf(ranks.length, p.keySkew, random);
    this.origin = origin;
    this.t = origin;
    const dcWeights = zipfWeights(p.dataCentres, p.dcTrafficSkew);
    const all = dcWeights.reduce((a, b) => a + b, 0);
    const own = simulatedDcs.map((i) => dcWeights[i]);
    this.viewerShare = own.reduce((a, b) => a + b, 0) / all;
    this.pickDc = weighted(simulatedDcs, own, random);
    // Each attacker sits in one data centre, as each IP does.
    const simulated = new Set(simulatedDcs);
    const ips = Array.from({ length: scenario.attackerIps ?? 0 }, (_, ip) => ip);
    this.attackerIpsHere = ips.filter((ip) => simulated.has(ip % p.dataCentres));
    this.attackerShare = ips.length ? this.attackerIpsHere.length / ips.length : 0;
  }

  /** Extra requests per second for the flash track at time `t` (ms), fleet-wide. */
  flashRate(t) {
    const f = this.s.flash;
    if (!f) return 0;
    const s = (t - this.origin - f.at * 1000) / 1000;
    if (s < 0) return 0;
    if (s < f.rampS) return (f.rps * s) / f.rampS;
    if (s < f.rampS + f.holdS) return f.rps;
    if (s < 2 * f.rampS + f.holdS) return f.rps * (1 - (s - f.rampS - f.holdS) / f.rampS);
    return 0;
  }

  /** Requests per second from attackers and from viewers landing in the simulated data centres at `t`. */
  rates(t) {
    const fleetWide = this.s.rps + this.flashRate(t);
    const attack = this.s.attackShare ?? 0;
    return {
      attackers: fleetWide * attack * this.attackerShare,
      viewers: fleetWide * (1 - attack) * this.viewerShare,
    };
  }

  /** Time of the next arrival (ms). The rate is taken at the current time: events change slowly next to 1/rate. */
  next() {
    const r = this.rates(this.t);
    this.t += exponential(1000 / (r.attackers + r.viewers), this.random);
    return this.t;
  }

  /** Who sends the arrival at `t` and for what: { cls, lookups, clientKey, dc }. */
  pick(t) {
    const r = this.random;
    const rates = this.rates(t);
    if (r() * (rates.attackers + rates.viewers) < rates.attackers) {
      const n = this.attackCounter++;
      const ip = this.attackerIpsHere[(r() * this.attackerIpsHere.length) | 0];
      const reads =
        n % 2 === 0
          ? [{ route: "search", raw: { query: `zq${n.toString(36)}x${ip}` } }]
          : [{ route: "track", raw: { id: String(TRACK_IDS + 1 + n) } }];
      return {
        cls: "attacker",
        lookups: reads,
        clientKey: `ip:10.66.${ip >> 8}.${ip & 255}`,
        dc: ip % this.p.dataCentres,
      };
    }
    const flash = this.flashRate(t);
    const total = this.s.rps + flash;
    const lookups = flash > 0 && r() * total < flash ? this.flashLookups : this.ranks[this.pickRank()].lookups;
    const viewer = (r() * this.p.viewers) | 0;
    return { cls: "viewer", lookups, clientKey: `ip:${viewer}`, dc: this.pickDc() };
  }
}

/** A fixed list of requests ({ at: seconds, isolate, lookups }, in time order), for calibration. */
export class ScriptedTraffic {
  #i = 0;

  constructor(requests, origin, dc) {
    this.requests = requests;
    this.origin = origin;
    this.dc = dc;
  }

  next() {
    const r = this.requests[this.#i];
    return r ? this.origin + r.at * 1000 : Number.POSITIVE_INFINITY;
  }

  pick() {
    const r = this.requests[this.#i++];
    return {
      cls: "viewer",
      lookups: r.lookups,
      clientKey: `ip:${r.client ?? this.#i}`,
      dc: this.dc,
      isolate: r.isolate,
    };
  }
}
