import { spawn } from "node:child_process";
import { startFakeServer } from "../fake/server.mjs";
import { wranglerDevArgs } from "./wrangler-dev.mjs";
import { QUIET } from "./wrangler-kv.mjs";

/**
 * `npm start`: the proxy on http://127.0.0.1:8787 in front of a local fake BeatPass, so it
 * runs with no BeatPass account and no internet. The fake's token is passed with --var and
 * wins over any real token in .dev.vars (use `npm run dev` to talk to the real BeatPass).
 */

const PROXY_PORT = Number(process.env.PORT ?? 8787);
const FAKE_PORT = Number(process.env.FAKE_BEATPASS_PORT ?? 8790);
const FAKE_TOKEN = "local-fake-token";
// Local only, like the fake's token: lets `npm run purge` be tried against `npm start`.
const LOCAL_PURGE_SECRET = "local-purge-secret-not-for-production-use";
const LOCAL_OPERATOR_KEY = "local-operator-key-not-for-production-use";
// wrangler dev is up in a few seconds on an idle machine; allow for a loaded one.
const STARTUP_BUDGET_MS = 90_000;

const fake = await startFakeServer({ port: FAKE_PORT, token: FAKE_TOKEN });
console.log(`Fake BeatPass: ${fake.apiBase}`);

const wrangler = spawn(
  process.execPath,
  wranglerDevArgs({
    port: PROXY_PORT,
    // Its own state folder: `npm run dev` (the real BeatPass) keeps .wrangler/dev-state.
    state: ".wrangler/start-state",
    extra: [
      "--var",
      `BEATPASS_API_BASE:${fake.apiBase}`,
      "--var",
      `BEATPASS_TOKEN:${FAKE_TOKEN}`,
      // The fake serves its own artwork; let the widgets show it.
      "--var",
      `IMAGE_HOSTS:127.0.0.1:${FAKE_PORT},beatpass.ca,*.beatpass.ca`,
      "--var",
      `PURGE_WEBHOOK_SECRET:${LOCAL_PURGE_SECRET}`,
      "--var",
      `OPERATOR_KEY:${LOCAL_OPERATOR_KEY}`,
      // Every request, hit or miss, gets its log line here (deployments default to misses).
      "--var",
      "REQUEST_LOG:all",
      // "log" is the level that shows the Worker's console.log, where the request log goes
      // ("info" would hide it).
      "--log-level",
      process.env.WRANGLER_LOG ?? "log",
      // Crons do not fire locally; miniflare's /cdn-cgi/handler/scheduled runs the refresh-ahead
      // by hand (wrangler's own /__scheduled needs its bundling, which the split build skips).
      "--test-scheduled",
    ],
    // Anything after `npm start --` goes to wrangler, e.g. `--persist-to /tmp/state`.
    userArgs: process.argv.slice(2),
  }),
  // QUIET keeps wrangler off the network (docs/toolchain.md §4): no telemetry, no update
  // check, no Request.cf download.
  { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...QUIET } },
);

const base = `http://127.0.0.1:${PROXY_PORT}`;
waitForProxy(base).then((ok) => {
  if (!ok) return;
  console.log(`
beatpass-edge is up at ${base} (fake BeatPass behind it). Try:
  ${base}/                           # in a browser: the widget demo page
  curl ${base}/v1/tracks/1
  curl '${base}/v1/tracks?per_page=5'
  curl '${base}/v1/artists/3?with=albums,topTracks'
  curl '${base}/v1/search?query=night'
  curl -i ${base}/v1/nope          # problem+json 404
  curl ${base}/healthz                                   # status; its details need the operator key:
  curl -H 'X-Operator-Key: ${LOCAL_OPERATOR_KEY}' ${base}/healthz
  curl ${base}/cdn-cgi/handler/scheduled   # run the refresh-ahead cron once
  ${base}/docs                       # in a browser: the API reference (OpenAPI at /openapi.json)
  PURGE_WEBHOOK_SECRET=${LOCAL_PURGE_SECRET} npm run purge -- track:1
Press Ctrl+C to stop.`);
});

async function waitForProxy(url) {
  const deadline = Date.now() + STARTUP_BUDGET_MS;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(`The proxy did not come up within ${STARTUP_BUDGET_MS / 1000} s; see wrangler's output above.`);
  return false;
}

const stop = async () => {
  wrangler.kill("SIGTERM");
  await fake.close();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", async (code) => {
  await fake.close();
  process.exit(code ?? 0);
});
