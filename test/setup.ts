import { reset } from "cloudflare:test";
import { afterEach, beforeEach, expect, vi } from "vitest";
import { resetHotKeys } from "../src/cache/hot";
import { resetPurges } from "../src/cache/purge";
import { resetCacheStats } from "../src/cache/stats";
import { resetTiers } from "../src/cache/tiers";
import { resetApiKeyMemo } from "../src/clients/api-keys";
import { resetSeenSignatures } from "../src/routes/hooks";
import { resetTokenState } from "../src/upstream/client";
import { resetGuard } from "../src/upstream/guard";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT } from "./helpers/constants";
import { FAKE_HOST, fake } from "./helpers/upstream";

/** Every log line the Worker wrote during the current test. */
export const logLines: string[] = [];

const realFetch = globalThis.fetch;

beforeEach(() => {
  fake.reset();
  // Module state that lives as long as an isolate: start every test from a cold isolate.
  resetTiers();
  resetGuard();
  resetTokenState();
  resetHotKeys();
  resetCacheStats();
  resetPurges();
  resetApiKeyMemo();
  resetSeenSignatures();
  logLines.length = 0;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (new URL(request.url).host === FAKE_HOST) return fake.fetch(request);
    throw new Error(`test tried to reach the network: ${new URL(request.url).origin}`);
  });
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(" "));
    });
  }
});

afterEach(async () => {
  // The token must never be logged, whatever the test did.
  for (const line of logLines) {
    expect(line).not.toContain(CANARY_TOKEN);
    expect(line).not.toContain(CANARY_TOKEN_NEXT);
    expect(line).not.toMatch(/Bearer /);
  }
  vi.restoreAllMocks();
  expect(globalThis.fetch).toBe(realFetch);
  // Storage is not isolated per test in this pool generation: clear KV ourselves.
  await reset();
});
