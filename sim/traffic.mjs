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
   * @param scenario { rps, flash?: { at, rampS, holdS, rps }, attackShare?, attackNetworks?, attackerIps? }
   * @param ranks    resolved catalogue entries: { lookups } by rank
   * @param flashLookups the flash track's lookups
   * @param origin       time 0 of the run (ms); scenario times count from it
   * @param dcs          indices of the data centres (ranked by traffic, 0 busiest)
   */
  constructor(p, scenario, random, ranks, flashLookups, origin, dcs) {
    this.p = p;
    this.s = scenario;
    this.random = random;
    this.ranks = ranks;
    this.flashLookups = flashLookups;
    this.pickRank = zipf(ranks.length, p.keySkew, random);
    this.origin = origin;
    this.t = origin;
    this.pickDc = weighted(dcs, zipfWeights(p.dataCentres, p.dcTrafficSkew), random);
    // Attackers' addresses: `attackerIps` spread over `attackNetworks` /24s, each network
    // behind one data centre (a hosting provider's range), so each address is one client
    // and each network one group (src/budget/groups.ts).
    this.attackNetworks = scenario.attackNetworks ?? 1;
    this.attackerIps = scenario.attackerIps ?? 0;
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

  /** Requests per second from attackers and from viewers at `t`. */
  rates(t) {
    const fleetWide = this.s.rps + this.flashRate(t);
    const attack = this.s.attackShare ?? 0;
    return { attackers: fleetWide * attack, viewers: fleetWide * (1 - attack) };
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
      const ip = (r() * this.attackerIps) | 0;
      const net = ip % this.attackNetworks;
      const reads =
        n % 2 === 0
          ? [{ route: "search", raw: { query: `zq${n.toString(36)}x${ip}` } }]
          : [{ route: "track", raw: { id: String(TRACK_IDS + 1 + n) } }];
      return {
        cls: "attacker",
        lookups: reads,
        clientKey: `ip:203.0.${net}.${1 + ((ip / this.attackNetworks) | 0)}`,
        dc: (net * 7) % this.p.dataCentres,
      };
    }
    const flash = this.flashRate(t);
    const total = this.s.rps + flash;
    const lookups = flash > 0 && r() * total < flash ? this.flashLookups : this.ranks[this.pickRank()].lookups;
    return { cls: "viewer", lookups, clientKey: viewerIp((r() * this.p.viewers) | 0), dc: this.pickDc() };
  }
}

/** Viewer `n`'s IPv4 address: viewers scattered over many /24s (a few per network), never 203.0.x.x. */
export function viewerIp(n) {
  const h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return `ip:${1 + (h % 200)}.${(h >>> 8) & 255}.${(h >>> 16) & 255}.${1 + (n % 250)}`;
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
