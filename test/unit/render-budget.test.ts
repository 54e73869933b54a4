import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { admitRender, pauseRefusal, resetRenderBudget } from "../../src/clients/render-budget";
import { ApiError } from "../../src/errors";
import type { Client, ClientTier } from "../../src/lib/trace";
import { useClock } from "../helpers/clock";
import {
  DOCUMENTED_MAX_PAUSED,
  DOCUMENTED_REFUSAL_MEMORY_MS,
  DOCUMENTED_REFUSAL_PAUSE_MS,
  DOCUMENTED_RENDER_LIMITS,
} from "../helpers/documented";
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
    const { limit, periodSeconds } = DOCUMENTED_RENDER_LIMITS.anon;
    const { first, other } = await inOneWindow(
      async () => {
        const first = await spend({ tier: "anon", limitKey: newIp() }, limit + 1);
        const other = await spend({ tier: "anon", limitKey: newIp() }, 1);
        return { first, other };
      },
      { periodSeconds },
    );
    expect(first.admitted).toBe(limit);
    expectRenderBudgetError(first.refusal, "anon");
    expect(other).toEqual({ admitted: 1, refusal: undefined });
  });

  it.each(["standard", "partner"] as const)("a %s key gets its tier's budget", async (tier) => {
    const { limit, periodSeconds } = DOCUMENTED_RENDER_LIMITS[tier];
    // The render limits' windows are 10 s: a burst of 201 on a busy machine can cross one.
    const { admitted, refusal } = await inOneWindow(
      () => spend({ tier, keyId: "0123456789ab", limitKey: newKey() }, limit + 1),
      { periodSeconds },
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

describe("refusals cost little", () => {
  /** A binding that refuses everything and counts its calls. */
  function refusing(): { binding: RateLimit; calls: () => number } {
    let calls = 0;
    return {
      binding: {
        limit: async () => {
          calls++;
          return { success: false };
        },
      },
      calls: () => calls,
    };
  }

  it("a refused client is remembered in the isolate for a second: no binding call per refusal until then", async () => {
    const clock = useClock();
    const { binding, calls } = refusing();
    const refusedEnv = { ...env, RENDER_LIMIT_ANON: binding };
    const client: Client = { tier: "anon", limitKey: newIp() };
    const refused = async (c: Client) =>
      expectRenderBudgetError(await admitRender(refusedEnv, c).catch((e) => e), "anon");
    for (let i = 0; i < 5; i++) {
      await refused(client);
      clock.advance(DOCUMENTED_REFUSAL_MEMORY_MS / 5 - 1);
    }
    expect(calls()).toBe(1);
    // Another client is asked about on its own.
    await refused({ tier: "anon", limitKey: newIp() });
    expect(calls()).toBe(2);
    // A second after the refusal, the binding is asked again (its window may have ended).
    clock.advance(5);
    await refused(client);
    expect(calls()).toBe(3);
  });

  it(`every refusal waits before it is sent, at most ${DOCUMENTED_MAX_PAUSED} at once per isolate: the next one is answered at once`, async () => {
    const order: string[] = [];
    const waiting = Array.from({ length: DOCUMENTED_MAX_PAUSED }, (_, i) =>
      pauseRefusal().then(() => order.push(`paused ${i}`)),
    );
    const started = performance.now();
    await pauseRefusal().then(() => order.push("past the cap"));
    await Promise.all(waiting);
    expect(order[0]).toBe("past the cap");
    expect(order).toHaveLength(DOCUMENTED_MAX_PAUSED + 1);
    // Once they are done, a refusal waits again: at least the pause, on any machine.
    const again = performance.now();
    await pauseRefusal();
    expect(performance.now() - again).toBeGreaterThanOrEqual(DOCUMENTED_REFUSAL_PAUSE_MS);
    expect(again - started).toBeGreaterThanOrEqual(DOCUMENTED_REFUSAL_PAUSE_MS);
  });
});
