import { describe, expect, it } from "vitest";
import { DOCUMENTED_LIMITS } from "../helpers/documented";
import { createKey } from "../helpers/keys";
import { type Called, call, expectProblem } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

/**
 * Per-client limits against the real Workers Rate Limiting bindings (miniflare's). Their
 * windows are aligned to the wall-clock minute and roll over for every client at once, so
 * each test uses clients of its own (CF-Connecting-IP values no other file uses) and a burst
 * that crossed a minute boundary is repeated once with new clients instead of waiting for a
 * fresh minute: a burst takes seconds, so the second one lies inside a single window.
 */

const ANON = DOCUMENTED_LIMITS.anon;
const ANON_POLICY = `"anon";q=${ANON.limit};w=${ANON.periodSeconds}`;
const OEMBED = "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F1";

let clients = 0;
/** A client IP used by no other test (TEST-NET-1, which the rest of the suite leaves alone). */
const newClient = () => `192.0.2.${++clients}`;

interface Burst {
  ip: string;
  /** Statuses of the first `limit` requests. */
  within: number[];
  /** The request just past the limit. */
  past: Called;
}

/** `limit` requests from one new client spread over `paths` in turn, then one more to `last`. */
async function burstPastLimit(paths: string[], last = paths[0] ?? "/v1/genres"): Promise<Burst> {
  for (let attempt = 1; ; attempt++) {
    const minute = Math.floor(Date.now() / 60_000);
    const ip = newClient();
    const within: number[] = [];
    for (let i = 0; i < ANON.limit; i++) {
      within.push((await call(paths[i % paths.length] ?? "", { headers: { "CF-Connecting-IP": ip } })).status);
    }
    const past = await call(last, { headers: { "CF-Connecting-IP": ip } });
    if (Math.floor(Date.now() / 60_000) === minute || attempt === 2) return { ip, within, past };
  }
}

function expectRateLimited(res: Called): void {
  expectProblem(res, 429, "rate_limited");
  expect(res.headers.get("Retry-After")).toBe(String(ANON.periodSeconds));
  expect(res.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
  expect(res.headers.get("RateLimit")).toBe(`"anon";r=0;t=${ANON.periodSeconds}`);
}

describe("per-client rate limits", () => {
  // Each of these makes 121+ requests (well under a second each on an idle machine).
  const BUDGET_MS = 120_000;

  it.each([
    ["/v1/*", "/v1/genres"],
    ["/widget/*", "/widget/track/1"],
    ["/oembed", OEMBED],
  ])(
    "%s: an anonymous client gets 120 answers a minute, then 429 rate_limited with Retry-After 60; another client is unaffected",
    async (_family, path) => {
      const { within, past } = await burstPastLimit([path]);
      expect(within).toEqual(Array(ANON.limit).fill(200));
      expectRateLimited(past);

      const other = await call(path, { headers: { "CF-Connecting-IP": newClient() } });
      expect(other.status).toBe(200);
      expect(other.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
    },
    BUDGET_MS,
  );

  it(
    "one client's budget is shared by /v1, /widget and /oembed: past 120 in all, each family refuses it",
    async () => {
      const { ip, within, past } = await burstPastLimit(["/v1/genres", "/widget/track/1", OEMBED]);
      expect(within).toEqual(Array(ANON.limit).fill(200));
      expectRateLimited(past);
      for (const path of ["/widget/track/1", OEMBED]) {
        expectRateLimited(await call(path, { headers: { "CF-Connecting-IP": ip } }));
      }
    },
    BUDGET_MS,
  );

  it(
    "a limited client with an API key counts against the key, not its IP, and gets the key's tier",
    async () => {
      const { ip, past } = await burstPastLimit(["/v1/genres"]);
      expectRateLimited(past);
      const keyed = await call("/v1/genres", { headers: { "CF-Connecting-IP": ip, "X-Api-Key": await createKey() } });
      expect(keyed.status).toBe(200);
      const { limit, periodSeconds } = DOCUMENTED_LIMITS.standard;
      expect(keyed.headers.get("RateLimit-Policy")).toBe(`"standard";q=${limit};w=${periodSeconds}`);
      // One shared cache: every one of those requests but the first was answered without BeatPass.
      expect(upstreamPaths()).toEqual(["/genres"]);
    },
    BUDGET_MS,
  );

  it(
    "runs unlimited where no binding is configured: even a client past its limit is answered",
    async () => {
      const { ip, past } = await burstPastLimit(["/v1/genres"]);
      expectRateLimited(past);
      const unbound = await call("/v1/genres", { headers: { "CF-Connecting-IP": ip } }, { RATE_LIMIT_ANON: undefined });
      expect(unbound.status).toBe(200);
    },
    BUDGET_MS,
  );
});
