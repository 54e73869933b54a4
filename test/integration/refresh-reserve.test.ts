import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { useClock } from "../helpers/clock";
import { call, health } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

/**
 * Refresh-ahead shares BeatPass's window with viewers' misses (and the token's other users).
 * docs/caching.md: it never spends BeatPass's last 50 requests of the window, judged by the
 * latest X-RateLimit-Remaining, and otherwise at most REFRESH_BUDGET_PER_MINUTE per run.
 */

// docs/caching.md, "refresh-ahead": requests of BeatPass's window the cron leaves to viewers.
const RESERVE = 50;
// docs/configuration.md: REFRESH_BUDGET_PER_MINUTE's default.
const REFRESH_BUDGET = 60;
// docs/beatpass-api/REFERENCE.md: BeatPass allows 300 requests a minute (the fake enforces it).
const BEATPASS_PER_MINUTE = 300;
// docs/caching.md: an entity copy is fresh for 300 s, and refresh-ahead renews keys that 3
// distinct clients asked for, within the last minute of their freshness.
const ENTITY_SOFT_MS = 300_000;
const HOT_MIN_CLIENTS = 3;

/** Entity keys the fake has: every track, then albums. */
const ENTITY_PATHS = [
  ...Array.from({ length: 61 }, (_, i) => `/v1/tracks/${i + 1}`),
  ...Array.from({ length: 10 }, (_, i) => `/v1/albums/${i + 1}`),
];

/** `n` keys, each asked for by enough distinct clients to be hot (each call() is a new client). */
async function hotKeys(n: number): Promise<void> {
  for (const path of ENTITY_PATHS.slice(0, n))
    for (let c = 0; c < HOT_MIN_CLIENTS; c++) expect((await call(path)).status, path).toBe(200);
  expect(upstreamPaths()).toHaveLength(n);
}

/**
 * Moves to the last half-minute of those copies' freshness, where BeatPass's window has
 * `remaining` requests left, as a viewer's miss learns from its answer.
 */
async function nearlyStaleWith(clock: ReturnType<typeof useClock>, remaining: number): Promise<void> {
  clock.advance(ENTITY_SOFT_MS - 30_000);
  // The viewer's miss below is the window's next request.
  fake.spendWindow(BEATPASS_PER_MINUTE - remaining - 1);
  expect((await call("/v1/artists/1")).status).toBe(200);
  expect((await health()).json().rate_limit).toMatchObject({ remaining });
}

/** How many requests one scheduled run sent to BeatPass. */
async function refreshedByNextRun(): Promise<number> {
  const before = upstreamPaths().length;
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
  return upstreamPaths().length - before;
}

describe("refresh-ahead leaves BeatPass's last requests to viewers", () => {
  // docs/caching.md: "at 60 it refreshes at most 10 keys, at 50 or below none".
  it.each([
    [60, 10],
    [51, 1],
    [RESERVE, 0],
    [12, 0],
  ])("with %i requests left in BeatPass's window, refreshes %i of 12 due keys", async (remaining, expected) => {
    const clock = useClock();
    await hotKeys(12);
    await nearlyStaleWith(clock, remaining);
    expect(await refreshedByNextRun()).toBe(expected);
  });

  it(`with plenty left, refreshes ${REFRESH_BUDGET} of 70 due keys (REFRESH_BUDGET_PER_MINUTE), and the rest next run`, async () => {
    const clock = useClock();
    await hotKeys(70);
    await nearlyStaleWith(clock, BEATPASS_PER_MINUTE - 1);
    expect(await refreshedByNextRun()).toBe(REFRESH_BUDGET);
    expect(await refreshedByNextRun()).toBe(70 - REFRESH_BUDGET);
    // About 350 requests through the Worker (seconds on a busy machine).
  }, 60_000);
});
