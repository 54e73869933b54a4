import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { problemSchema } from "../../src/errors";
import { DOCUMENTED_LIMITS, DOCUMENTED_MISS_LIMITS, DOCUMENTED_RENDER_LIMITS } from "../helpers/documented";

// The README's promise, tested as a user meets it: `npm start` serves the proxy on workerd
// (wrangler dev) in front of the fake BeatPass, with no account and no internet. The stack
// is started once for all e2e files (global-setup.ts), on ports off the defaults so a
// developer's own `npm start` can keep running.
const stack = inject("stack");

describe("npm start", () => {
  it("prints URLs to try", () => {
    expect(stack.output).toContain(`curl ${stack.base}/v1/tracks/1`);
  });

  it("prints one log line per request, hits included", async () => {
    const path = "/v1/genres?e2e-log=1";
    for (let i = 0; i < 2; i++) expect((await fetch(`${stack.base}${path}`)).status).toBe(200);
    const lines = () =>
      readFileSync(stack.logFile, "utf8")
        .split("\n")
        .filter((l) => l.includes('"event":"request"') && l.includes('"route":"/v1/genres"'));
    await expect.poll(() => lines().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(lines().some((l) => l.includes('"cache":"hit"'))).toBe(true);
  });

  it("serves real-looking track data at /v1/tracks/1", async () => {
    const res = await fetch(`${stack.base}/v1/tracks/1`);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: Record<string, unknown> };
    expect(data).toMatchObject({ id: 1, name: "Midnight Run", currency: "USD" });
    for (const field of ["bpm", "key", "price", "plays", "licensing_type", "artists"])
      expect(data).toHaveProperty(field);
  });

  it("serves the second request from cache, keeping KV state where it was told to", async () => {
    await fetch(`${stack.base}/v1/albums/2`);
    const res = await fetch(`${stack.base}/v1/albums/2`);
    expect(res.headers.get("Cache-Status")).toMatch(/hit/);
    expect(readdirSync(stack.state).length).toBeGreaterThan(0);
  });

  it("answers /v1/nope with a problem+json 404", async () => {
    const res = await fetch(`${stack.base}/v1/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(problemSchema().parse(await res.json()).code).toBe("not_found");
  });

  it("turns an injected BeatPass outage into a problem, not a crash page", async () => {
    await fetch(`${stack.fake}/__fake/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "status", status: 500, path: "/tracks/2" }),
    });
    const res = await fetch(`${stack.base}/v1/tracks/2`);
    await fetch(`${stack.fake}/__fake/faults`, { method: "DELETE" });
    expect(res.status).toBe(502);
    expect(problemSchema().parse(await res.json()).code).toBe("upstream_error");
  });

  it("runs the refresh-ahead cron on demand at /cdn-cgi/handler/scheduled", async () => {
    const logged = () => readFileSync(stack.logFile, "utf8").split('"refresh_ahead"').length - 1;
    const before = logged();
    const res = await fetch(`${stack.base}/cdn-cgi/handler/scheduled`);
    expect(res.status).toBe(200);
    // The cron's own log line, not only the runtime's 200: the Worker's scheduled() ran.
    const deadline = Date.now() + 30_000;
    while (logged() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(logged()).toBeGreaterThan(before);
  });

  it("serves the widget demo page and cards with artwork from the fake", async () => {
    const page = await fetch(`${stack.base}/`);
    expect(await page.text()).toContain("/widget/track/1");
    const card = await (await fetch(`${stack.base}/widget/track/1`)).text();
    expect(card).toContain(`src="${stack.fake}/images/tracks/1.jpg"`);
  });

  it("never shows the fake's token", async () => {
    const operatorKey = /X-Operator-Key: (\S+)'/.exec(stack.output)?.[1] ?? "";
    expect(operatorKey).not.toBe("");
    const res = await fetch(`${stack.base}/healthz`, { headers: { "X-Operator-Key": operatorKey } });
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ status: "ok", token_configured: true });
    expect(text).not.toContain("local-fake-token");
  });
});

describe("operator commands against npm start", () => {
  // Asynchronous on purpose: a spawnSync blocks this process's event loop for the seconds
  // wrangler takes, so it misses the proxy closing an idle keep-alive connection, and the next
  // fetch reuses the dead socket ("other side closed", seen on a loaded machine).
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, args, { encoding: "utf8", env: { ...process.env, ...env } }, (err, stdout, stderr) =>
        resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  it("key:create makes keys the running proxy accepts; key:revoke makes it refuse one", async () => {
    const create = async (name: string) => {
      const out = await run([
        "scripts/keys.mjs",
        "create",
        "--name",
        name,
        "--tier",
        "partner",
        "--persist-to",
        stack.state,
      ]);
      expect(out.status, out.stderr).toBe(0);
      return /bpe_[A-Za-z0-9_-]{43}/.exec(out.stdout)?.[0] ?? "";
    };
    const kept = await create("e2e bot");
    const doomed = await create("e2e doomed");

    const list = await run(["scripts/keys.mjs", "list", "--persist-to", stack.state]);
    // A header row, then one row per key: id, tier, state, created, expires, revoked, name.
    expect(list.stdout.split("\n")[0]).toMatch(/^ID\s+TIER\s+STATE\s+CREATED\s+EXPIRES\s+REVOKED\s+NAME$/);
    const today = new Date().toISOString().slice(0, 10);
    expect(list.stdout).toMatch(new RegExp(`^[0-9a-f]{12}\\s+partner\\s+active\\s+${today}\\s+never\\s+e2e bot$`, "m"));
    for (const key of [kept, doomed]) expect(list.stdout).not.toContain(key);
    const doomedId = /^([0-9a-f]{12})\s.*e2e doomed$/m.exec(list.stdout)?.[1] ?? "";
    const revoked = await run(["scripts/keys.mjs", "revoke", "--id", doomedId, "--persist-to", stack.state]);
    expect(revoked.status, revoked.stderr).toBe(0);

    const ok = await fetch(`${stack.base}/v1/genres`, { headers: { "X-Api-Key": kept } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("RateLimit-Policy")).toContain('"partner"');
    // Never used before its revocation, so no isolate remembers it: refused at once. (A key
    // an isolate has seen is refused within a minute; the workers tests move time for that.)
    const refused = await fetch(`${stack.base}/v1/genres`, { headers: { "X-Api-Key": doomed } });
    expect(refused.status).toBe(401);
    expect(problemSchema().parse(await refused.json()).code).toBe("invalid_api_key");
  });

  it("key:list --remote without a Cloudflare login says so in one sentence, with no stack trace", async () => {
    const home = mkdtempSync(join(tmpdir(), "no-login-"));
    const env = { HOME: home, XDG_CONFIG_HOME: home, CLOUDFLARE_API_TOKEN: "", CLOUDFLARE_ACCOUNT_ID: "" };
    const out = await run(["scripts/keys.mjs", "list", "--remote"], env);
    expect(out.status).not.toBe(0);
    expect(out.stdout).toBe("");
    expect(out.stderr.trim().split("\n")).toEqual([
      "Not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then repeat the command.",
    ]);
  });

  it("an oversized purge body is a 413, and the next request on the same connection is answered", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // `chunks`: the body streamed without a Content-Length, so only reading finds it too big.
    const send = (method: string, path: string, chunks: string[] = []) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const headers = chunks.length > 1 ? { "Transfer-Encoding": "chunked" } : undefined;
        const req = request(`${stack.base}${path}`, { method, agent, headers, timeout: 10_000 }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
        req.on("error", reject);
        for (const chunk of chunks.slice(0, -1)) req.write(chunk);
        req.end(chunks.at(-1));
      });
    try {
      const big = JSON.stringify({ resources: Array(2000).fill("track:123456") });
      for (const body of [[big], big.match(/.{1,4096}/gs) ?? []]) {
        expect((await send("POST", "/hooks/purge", body)).status).toBe(413);
        expect(await send("GET", "/v1/genres")).toEqual({ status: 200, reused: true });
      }
    } finally {
      agent.destroy();
    }
  });

  it("npm run purge signs a purge the running proxy accepts", async () => {
    const secret = /PURGE_WEBHOOK_SECRET=(\S+)/.exec(stack.output)?.[1] ?? "";
    const res = await run(["scripts/purge.mjs", "track:1", "artist:3"], {
      PURGE_WEBHOOK_SECRET: secret,
      PURGE_URL: stack.base,
    });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('"purged":["track:1","artist:3"]');
  });
});

it("rate-limit, miss-budget and render-budget numbers in wrangler.toml (top level, staging, production) are the README's", () => {
  const toml = readFileSync("wrangler.toml", "utf8");
  for (const [tier, binding, documented] of [
    ["anon", "RATE_LIMIT_ANON", DOCUMENTED_LIMITS],
    ["standard", "RATE_LIMIT_STANDARD", DOCUMENTED_LIMITS],
    ["partner", "RATE_LIMIT_PARTNER", DOCUMENTED_LIMITS],
    ["anon", "MISS_LIMIT_ANON", DOCUMENTED_MISS_LIMITS],
    ["standard", "MISS_LIMIT_STANDARD", DOCUMENTED_MISS_LIMITS],
    ["partner", "MISS_LIMIT_PARTNER", DOCUMENTED_MISS_LIMITS],
    ["anon", "RENDER_LIMIT_ANON", DOCUMENTED_RENDER_LIMITS],
    ["standard", "RENDER_LIMIT_STANDARD", DOCUMENTED_RENDER_LIMITS],
    ["partner", "RENDER_LIMIT_PARTNER", DOCUMENTED_RENDER_LIMITS],
  ] as const) {
    const blocks = [
      ...toml.matchAll(
        new RegExp(`name = "${binding}"[\\s\\S]*?simple = \\{ limit = (\\d+), period = (\\d+) \\}`, "g"),
      ),
    ];
    expect(blocks.length).toBe(3); // top level, staging, production
    for (const m of blocks)
      expect({ limit: Number(m[1]), periodSeconds: Number(m[2]) }, binding).toEqual(documented[tier]);
  }
});
