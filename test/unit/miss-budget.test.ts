import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { admitMiss, resetMissBudget } from "../../src/clients/miss-budget";
import { ApiError } from "../../src/errors";
import type { Client, ClientTier } from "../../src/lib/trace";
import { DOCUMENTED_LIMITS, DOCUMENTED_MISS_LIMITS } from "../helpers/documented";
import { inOneWindow } from "../helpers/window";
import { logLines } from "../setup";

/**
 * admitMiss against the real MISS_LIMIT_* bindings (miniflare's). Their windows are aligned
 * to the wall-clock minute, so each burst uses clients of its own (random limit keys, made
 * inside the burst) and one that crossed a minute boundary is run again with new clients
 * (inOneWindow, helpers/window.ts).
 */

const newIp = () => `ip:test-${crypto.randomUUID()}`;
const newKey = () => `key:${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;

/** How many of `n` misses the client was admitted before the first refusal, and that refusal. */
async function spend(client: Client, n: number): Promise<{ admitted: number; refusal: unknown }> {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    try {
      await admitMiss(env, client);
      admitted++;
    } catch (err) {
      return { admitted, refusal: err };
    }
  }
  return { admitted, refusal: undefined };
}

function expectMissBudgetError(err: unknown, tier: ClientTier): void {
  expect(err).toBeInstanceOf(ApiError);
  const e = err as ApiError;
  expect(e.code).toBe("client_miss_budget");
  expect(e.status).toBe(429);
  expect(e.detail).toMatch(/uncached/);
  expect(e.detail).toMatch(/Cached data is still served/);
  const { limit, periodSeconds } = DOCUMENTED_MISS_LIMITS[tier];
  expect(e.headers["Retry-After"]).toBe(String(periodSeconds));
  const req = DOCUMENTED_LIMITS[tier];
  expect(e.headers["RateLimit-Policy"]).toBe(
    `"${tier}";q=${req.limit};w=${req.periodSeconds}, "${tier}-misses";q=${limit};w=${periodSeconds}`,
  );
  expect(e.headers.RateLimit).toBe(`"${tier}-misses";r=0;t=${periodSeconds}`);
}

beforeEach(() => resetMissBudget());

describe("admitMiss (per-client miss budget)", () => {
  it(`admits an anonymous client ${DOCUMENTED_MISS_LIMITS.anon.limit} misses a minute, then refuses with 429 client_miss_budget and Retry-After`, async () => {
    const { limit } = DOCUMENTED_MISS_LIMITS.anon;
    const { admitted, refusal } = await inOneWindow(() => spend({ tier: "anon", limitKey: newIp() }, limit + 1));
    expect(admitted).toBe(limit);
    expectMissBudgetError(refusal, "anon");
  });

  it("keeps refusing a client past its budget, while other clients are admitted", async () => {
    const { limit } = DOCUMENTED_MISS_LIMITS.anon;
    const { others, again } = await inOneWindow(async () => {
      const spent: Client = { tier: "anon", limitKey: newIp() };
      await spend(spent, limit);
      const others = await spend({ tier: "anon", limitKey: newIp() }, limit);
      const again = await spend(spent, 1);
      return { others, again };
    });
    expect(others).toEqual({ admitted: limit, refusal: undefined });
    expect(again.admitted).toBe(0);
    expectMissBudgetError(again.refusal, "anon");
  });

  it.each(["standard", "partner"] as const)("a %s key gets its tier's budget", async (tier) => {
    const { limit } = DOCUMENTED_MISS_LIMITS[tier];
    const { admitted, refusal } = await inOneWindow(() =>
      spend({ tier, keyId: "0123456789ab", limitKey: newKey() }, limit + 1),
    );
    expect(admitted).toBe(limit);
    expectMissBudgetError(refusal, tier);
  });

  it("a keyed client's budget is not an anonymous client's with the same limit key, and the other way round", async () => {
    const { anon, standard } = await inOneWindow(async () => {
      const shared = newKey();
      const anon = await spend({ tier: "anon", limitKey: shared }, DOCUMENTED_MISS_LIMITS.anon.limit + 1);
      const standard = await spend({ tier: "standard", limitKey: shared }, DOCUMENTED_MISS_LIMITS.anon.limit + 1);
      return { anon, standard };
    });
    expect(anon.admitted).toBe(DOCUMENTED_MISS_LIMITS.anon.limit);
    expect(standard).toEqual({ admitted: DOCUMENTED_MISS_LIMITS.anon.limit + 1, refusal: undefined });
  });

  it("admits every miss where no binding is configured, and says so once in the log", async () => {
    const unbound = { ...env, MISS_LIMIT_ANON: undefined };
    const client: Client = { tier: "anon", limitKey: newIp() };
    for (let i = 0; i < DOCUMENTED_MISS_LIMITS.anon.limit + 5; i++) await admitMiss(unbound, client);
    const warnings = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "miss_limit_unbound");
    expect(warnings).toEqual([expect.objectContaining({ level: "warn", binding: "MISS_LIMIT_ANON" })]);
  });
});
