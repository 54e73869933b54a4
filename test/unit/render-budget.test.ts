import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { admitRender, resetRenderBudget } from "../../src/clients/render-budget";
import { ApiError } from "../../src/errors";
import type { Client, ClientTier } from "../../src/lib/trace";
import { DOCUMENTED_RENDER_LIMITS } from "../helpers/documented";
import { inOneWindow } from "../helpers/window";
import { logLines } from "../setup";

/** admitRender against the real RENDER_LIMIT_* bindings (miniflare's), as in miss-budget.test.ts. */

const newIp = () => `ip:test-${crypto.randomUUID()}`;
const newKey = () => `key:${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;

async function spend(client: Client, n: number): Promise<{ admitted: number; refusal: unknown }> {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    try {
      await admitRender(env, client);
      admitted++;
    } catch (err) {
      return { admitted, refusal: err };
    }
  }
  return { admitted, refusal: undefined };
}

function expectRenderBudgetError(err: unknown, tier: ClientTier): void {
  expect(err).toBeInstanceOf(ApiError);
  const e = err as ApiError;
  expect([e.code, e.status]).toEqual(["render_budget", 429]);
  const { limit, periodSeconds } = DOCUMENTED_RENDER_LIMITS[tier];
  expect(e.headers["Retry-After"]).toBe(String(periodSeconds));
  expect(e.headers["RateLimit-Policy"]).toBe(`"${tier}-renders";q=${limit};w=${periodSeconds}`);
  expect(e.headers.RateLimit).toBe(`"${tier}-renders";r=0;t=${periodSeconds}`);
}

beforeEach(() => resetRenderBudget());

describe("admitRender (per-client render budget)", () => {
  it(`admits an anonymous client ${DOCUMENTED_RENDER_LIMITS.anon.limit} renders a minute, then refuses with 429 render_budget; another client is admitted`, async () => {
    const { limit } = DOCUMENTED_RENDER_LIMITS.anon;
    const { first, other } = await inOneWindow(async () => {
      const first = await spend({ tier: "anon", limitKey: newIp() }, limit + 1);
      const other = await spend({ tier: "anon", limitKey: newIp() }, 1);
      return { first, other };
    });
    expect(first.admitted).toBe(limit);
    expectRenderBudgetError(first.refusal, "anon");
    expect(other).toEqual({ admitted: 1, refusal: undefined });
  });

  it.each(["standard", "partner"] as const)("a %s key gets its tier's budget", async (tier) => {
    const { limit } = DOCUMENTED_RENDER_LIMITS[tier];
    const { admitted, refusal } = await inOneWindow(() =>
      spend({ tier, keyId: "0123456789ab", limitKey: newKey() }, limit + 1),
    );
    expect(admitted).toBe(limit);
    expectRenderBudgetError(refusal, tier);
  });

  it("admits every render where no binding is configured, and says so once in the log", async () => {
    const unbound = { ...env, RENDER_LIMIT_ANON: undefined };
    const client: Client = { tier: "anon", limitKey: newIp() };
    for (let i = 0; i < DOCUMENTED_RENDER_LIMITS.anon.limit + 5; i++) await admitRender(unbound, client);
    const warnings = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "render_limit_unbound");
    expect(warnings).toEqual([expect.objectContaining({ level: "warn", binding: "RENDER_LIMIT_ANON" })]);
  });
});
