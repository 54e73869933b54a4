import { ratelimits } from "../scripts/wrangler-toml.mjs";
import { interleaved, load, startWorker } from "./lib.mjs";

/**
 * Client addresses for CF-Connecting-IP, a different one on every call: IPv4 and IPv6 (each
 * in its own /64) in turn, over `cycle` distinct addresses. At the cycle's 65,536 and a few
 * thousand requests a second, an address comes back a few times a minute, far under the anon
 * tier's 120 requests a minute, so no request is refused.
 */
export function rotatingAddresses(cycle = 65536, prefix = 10) {
  let i = 0;
  return () => {
    const n = i++ % cycle;
    const ip =
      n % 2
        ? `2001:db8:${prefix.toString(16)}:${(n >> 1).toString(16)}::1`
        : `${prefix}.${(n >> 17) & 255}.${(n >> 9) & 255}.${(n >> 1) & 255}`;
    return { "CF-Connecting-IP": ip };
  };
}

/**
 * A cached JSON hit (/v1/tracks/1, in the memory tier) through miniflare's entry worker, as
 * `wrangler dev` serves it, each request from a new client address, in the default
 * configuration (REQUEST_LOG unset, the rate limiters of wrangler.toml bound), against a Worker
 * returning the same body under the same requests. One more of ours shows where the
 * difference goes: new addresses with no rate limiter bound. (A single repeat address is not
 * measured: every client is counted in its isolate, so at these rates it would be refused.)
 */
export async function addressesBench({ file, bindings, baselineScript, ports, rounds, seconds }) {
  const wranglerLimits = ratelimits();
  const rotate = rotatingAddresses();
  const specs = [
    { name: "ours, new address each request", ratelimits: wranglerLimits, headers: rotate },
    { name: "baseline (fixed body), same requests", script: baselineScript, headers: rotate },
    { name: "ours, new address each request, no rate limiter bound", ratelimits: {}, headers: rotate },
  ];
  const workers = [];
  try {
    for (const [i, s] of specs.entries()) {
      const w = await startWorker(
        s.script
          ? { script: s.script, port: ports[i] }
          : { scriptPath: file, port: ports[i], keeper: true, bindings, ratelimits: s.ratelimits },
      );
      workers.push(w);
    }
    const path = "/v1/tracks/1";
    const sides = specs.map((s, i) => ({
      url: workers[i].url,
      path: s.script ? "/" : path,
      pids: workers[i].pids,
      headers: s.headers,
    }));
    for (const side of sides)
      await load(side.url, { path: side.path, seconds: 1, connections: 4, headers: side.headers });
    const m = await interleaved(sides, rounds, { seconds });
    return {
      addresses: 65536,
      rounds,
      seconds,
      sides: specs.map((s, i) => ({ name: s.name, ...m.sides[i], vsBaseline: i === 1 ? undefined : m.versus(i, 1) })),
      limiterVsNone: m.versus(0, 2),
    };
  } finally {
    for (const w of workers) await w.mf.dispose();
  }
}
