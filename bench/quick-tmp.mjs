import { ab, bundle, load, startWorker } from "/work/main/bench/lib.mjs";
import { startFakeServer } from "/work/main/fake/server.mjs";

const file = process.argv[2];
const fake = await startFakeServer({ port: 18990, token: "bench-token", rateLimitPerMinute: 1e12 });
const t = await startWorker({
  scriptPath: file,
  port: 18991,
  bindings: { BEATPASS_TOKEN: "bench-token", BEATPASS_API_BASE: fake.apiBase },
});
const sample = await (await fetch(`${t.url}/v1/tracks/1`)).text();
const b = await startWorker({
  script: `export default { fetch() { return new Response(${JSON.stringify(sample)}, { headers: { "Content-Type": "application/json" } }); } };`,
  port: 18992,
});
await load(t.url, { path: "/v1/tracks/1", seconds: 1 });
await load(b.url, { seconds: 1 });
const r = await ab({ url: t.url, path: "/v1/tracks/1" }, { url: b.url, path: "/" }, 2, { seconds: 3 });
console.log(
  JSON.stringify({
    target: r.a.rps.toFixed(0),
    base: r.b.rps.toFixed(0),
    ratio: (r.a.rps / r.b.rps).toFixed(2),
    p50: [r.a.p50, r.b.p50],
  }),
);
await t.mf.dispose();
await b.mf.dispose();
await fake.close();
process.exit(0);
