import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { problemSchema } from "../../src/errors";

// The README's promise, tested as a user meets it: `npm start` serves the proxy on workerd
// (wrangler dev) in front of the fake BeatPass, with no account and no internet. Ports are
// moved off the defaults so a developer's own `npm start` can keep running.
const PROXY_PORT = 18787;
const FAKE_PORT = 18790;
const BASE = `http://127.0.0.1:${PROXY_PORT}`;
const FAKE = `http://127.0.0.1:${FAKE_PORT}`;

let child: ChildProcess;
let output = "";
const state = mkdtempSync(join(tmpdir(), "beatpass-edge-e2e-"));

beforeAll(async () => {
  child = spawn(process.execPath, ["scripts/start.mjs", "--persist-to", state], {
    env: { ...process.env, PORT: String(PROXY_PORT), FAKE_BEATPASS_PORT: String(FAKE_PORT) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const deadline = Date.now() + 45_000;
  while (!output.includes("beatpass-edge is up")) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    process.kill(-child.pid, "SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  rmSync(state, { recursive: true, force: true });
});

describe("npm start", () => {
  it("prints URLs to try", () => {
    expect(output).toContain(`curl ${BASE}/v1/tracks/1`);
  });

  it("serves real-looking track data at /v1/tracks/1", async () => {
    const res = await fetch(`${BASE}/v1/tracks/1`);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: Record<string, unknown> };
    expect(data).toMatchObject({ id: 1, name: "Midnight Run", currency: "USD" });
    for (const field of ["bpm", "key", "price", "plays", "licensing_type", "artists"])
      expect(data).toHaveProperty(field);
  });

  it("serves the second request from the local KV", async () => {
    await fetch(`${BASE}/v1/albums/2`);
    const res = await fetch(`${BASE}/v1/albums/2`);
    expect(res.headers.get("Cache-Status")).toMatch(/hit/);
  });

  it("answers /v1/nope with a problem+json 404", async () => {
    const res = await fetch(`${BASE}/v1/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(problemSchema.parse(await res.json()).code).toBe("not_found");
  });

  it("turns an injected BeatPass outage into a problem, not a crash page", async () => {
    await fetch(`${FAKE}/__fake/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "status", status: 500, path: "/tracks/2" }),
    });
    const res = await fetch(`${BASE}/v1/tracks/2`);
    await fetch(`${FAKE}/__fake/faults`, { method: "DELETE" });
    expect(res.status).toBe(502);
    expect(problemSchema.parse(await res.json()).code).toBe("upstream_error");
  });

  it("never shows the fake's token", async () => {
    const res = await fetch(`${BASE}/healthz`);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ status: "ok", token_configured: true });
    expect(text).not.toContain("local-fake-token");
  });
});
