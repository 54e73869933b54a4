import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CATALOG_PATHS } from "../../src/routes/catalog";
import { CANARY_TOKEN } from "../helpers/constants";
import { call, expectProblem, health } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

// `call` already asserts on every response of the suite that the canary token is absent from
// headers and body, and test/setup.ts asserts the same for every log line. This file makes
// the sweep explicit over every route, in success and in failure.

const concrete = (p: string) => p.replace(":id", "3").replace(":name", "dark");
const withQuery = (p: string) => (p === "/search" ? `${p}?query=night` : p);

describe("the token never leaves the Worker", () => {
  it("is absent from every route's success response, its KV entry and the logs", async () => {
    for (const p of CATALOG_PATHS) {
      const res = await call(`/v1${withQuery(concrete(p))}`);
      expect([200, 404]).toContain(res.status);
    }
    for (const path of ["/", "/healthz", "/problems/not_found", "/v1/nope"]) await call(path);
    const { keys } = await env.BEATPASS_CACHE.list();
    expect(keys.length).toBeGreaterThan(10);
    for (const k of keys) expect(await env.BEATPASS_CACHE.get(k.name)).not.toContain(CANARY_TOKEN);
    expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${CANARY_TOKEN}`)).toBe(true);
  });

  it("is absent when BeatPass echoes it back in an error or a payload", async () => {
    const echo = `Token ${CANARY_TOKEN} expired at Bearer ${CANARY_TOKEN}`;
    fake.addFault({ kind: "status", status: 401, body: { message: echo }, path: "/tracks/1" });
    fake.addFault({ kind: "status", status: 500, body: echo, path: "/tracks/2" });
    fake.addFault({
      kind: "body",
      body: { status: "success", track: { id: 3, name: "x", debug_token: CANARY_TOKEN } },
      path: "/tracks/3",
    });
    fake.addFault({
      kind: "body",
      body: { status: "success", track: { id: "bad", name: CANARY_TOKEN } },
      path: "/tracks/4",
    });
    // docs/api.md, "Errors": BeatPass refusing the token is 503 upstream_unauthorized (the
    // operator must rotate it), its 5xx a 502 upstream_error, JSON not in the documented
    // shape a 502 upstream_schema_mismatch; fields outside the documented shape are dropped.
    const refused = await call("/v1/tracks/1");
    expectProblem(refused, 503, "upstream_unauthorized");
    const failed = await call("/v1/tracks/2");
    expectProblem(failed, 502, "upstream_error");
    const extra = await call("/v1/tracks/3");
    expect(extra.status).toBe(200);
    expect(extra.json().data).toMatchObject({ id: 3, name: "x" });
    expect(extra.text).not.toContain("debug_token");
    const malformed = await call("/v1/tracks/4");
    expectProblem(malformed, 502, "upstream_schema_mismatch");
    // BeatPass's words stay out of every answer (call() checks the token itself).
    for (const res of [refused, failed, malformed]) expect(res.text).not.toContain("expired at");
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2", "/tracks/3", "/tracks/4"]);
    // The log said what happened (test/setup.ts fails any line with the token in it).
    const failures = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "request" && l.status >= 500);
    expect(failures.map((l) => l.status)).toEqual([503, 502, 502]);
  });

  it("healthz reports a token exists without any part of it", async () => {
    const res = await health();
    expect(res.json()).toMatchObject({
      status: "ok",
      token_configured: true,
      upstream_base: "https://fake-beatpass.test/api/v1",
    });
    for (let n = 6; n <= CANARY_TOKEN.length; n += 6) expect(res.text).not.toContain(CANARY_TOKEN.slice(0, n));
  });
});
