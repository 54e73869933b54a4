import http from "node:http";
import { pathToFileURL } from "node:url";
import { createFakeBeatpass, FAKE_BASE_PATH } from "./beatpass.mjs";

/**
 * Serves the fake BeatPass on Node's http server for `npm start` and benchmarks.
 * Besides the API under /api/v1 it has a control surface under /__fake:
 *   GET /__fake/requests  -> what it was asked      DELETE /__fake/requests -> forget
 *   POST /__fake/faults   -> body: a fault or list  DELETE /__fake/faults   -> clear
 */
export async function startFakeServer({
  port = 8790,
  host = "127.0.0.1",
  token = "local-fake-token",
  rateLimitPerMinute = 300,
  synthesizeTracks = false,
} = {}) {
  const fake = createFakeBeatpass({
    token,
    rateLimitPerMinute,
    synthesizeTracks,
    imageBase: `http://${host}:${port}/images`,
  });
  const server = http.createServer((req, res) => {
    handle(fake, req, res).catch((err) => {
      // A "network" fault, or the client hanging up on a delayed answer: both end quietly.
      if (!(err instanceof TypeError) && err?.name !== "AbortError") console.error("fake beatpass:", err);
      res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const origin = `http://${host}:${address.port}`;
  return {
    fake,
    origin,
    apiBase: `${origin}${FAKE_BASE_PATH}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(fake, req, res) {
  const url = new URL(req.url ?? "/", "http://fake.local");
  if (url.pathname.startsWith("/__fake/")) return control(fake, req, res, url.pathname);

  const abort = new AbortController();
  res.on("close", () => abort.abort());
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
  const response = await fake.fetch(
    new Request(new URL(req.url ?? "/", `http://${req.headers.host}`), {
      method: req.method,
      headers,
      signal: abort.signal,
    }),
  );
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(body);
}

async function control(fake, req, res, path) {
  const send = (status, body) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (path === "/__fake/requests") {
    if (req.method === "DELETE") fake.requests.length = 0;
    return send(200, { requests: fake.requests });
  }
  if (path === "/__fake/faults") {
    if (req.method === "DELETE") fake.faults.length = 0;
    if (req.method === "POST") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const parsed = JSON.parse(raw || "[]");
      for (const f of Array.isArray(parsed) ? parsed : [parsed]) fake.addFault(f);
    }
    return send(200, { faults: fake.faults });
  }
  return send(404, { message: "unknown control path" });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const port = Number(process.env.FAKE_BEATPASS_PORT ?? 8790);
  const token = process.env.FAKE_BEATPASS_TOKEN ?? "local-fake-token";
  const { apiBase } = await startFakeServer({ port, token });
  console.log(`Fake BeatPass listening on ${apiBase} (token: ${token})`);
}
