import { abortAllDurableObjects, reset } from "cloudflare:test";
import { afterEach, beforeEach, expect, vi } from "vitest";
import { resetIsolate } from "../src/isolate";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT } from "./helpers/constants";
import { enforceKvLimits, kvRefusals, resetKvLimits } from "./helpers/kv";
import { FAKE_HOST, fake } from "./helpers/upstream";

/** Every log line the Worker wrote during the current test. */
export const logLines: string[] = [];
/** Requests the Worker tried to send anywhere but the fake (each one fails the test). */
export const offNetwork: { url: string; authorization: string | null }[] = [];

// What no log line may hold: the tokens, an Authorization value, an API key, a stack frame.
const API_KEY_IN_TEXT = /bpe_[A-Za-z0-9_-]{43}/;
// (Log lines are JSON, so a stack's newlines arrive as the two characters \n.)
const STACK_FRAME = /(?:\n|\\n)\s*at \S.*:\d+:\d+|\bat (?:async )?\S+ \(.+:\d+:\d+\)/;

const realFetch = globalThis.fetch;

// The local KV accepts some of what production refuses (one write per second per key above
// all): from here on every KV binding in this isolate refuses it too (helpers/kv.ts).
enforceKvLimits();

beforeEach(() => {
  fake.reset();
  // Module state that lives as long as an isolate: start every test from a cold isolate.
  resetIsolate();
  logLines.length = 0;
  offNetwork.length = 0;
  resetKvLimits();
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    let request = new Request(input as RequestInfo, init);
    // Redirects are followed as the runtime would when the caller asks for it, so a test can
    // tell redirect: "manual" from "follow" (and see where the token would have gone).
    for (let hops = 0; ; hops++) {
      const url = new URL(request.url);
      if (url.host !== FAKE_HOST) {
        offNetwork.push({ url: url.href, authorization: request.headers.get("Authorization") });
        throw new TypeError(`test tried to reach the network: ${url.origin}`);
      }
      const res = abortable(await fake.fetch(request), request.signal);
      const location = res.headers.get("Location");
      if (request.redirect !== "follow" || res.status < 300 || res.status >= 400 || !location || hops >= 5) return res;
      request = new Request(new URL(location, url), { headers: request.headers, signal: request.signal });
    }
  });
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(" "));
    });
  }
});

/** As with a real fetch, aborting the request's signal also errors a body still arriving. */
function abortable(res: Response, signal: AbortSignal): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (signal.aborted) {
        await reader.cancel(signal.reason).catch(() => undefined);
        controller.error(signal.reason);
        return;
      }
      const aborted = new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
      );
      try {
        const { done, value } = await Promise.race([reader.read(), aborted]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        await reader.cancel(err).catch(() => undefined);
        controller.error(err);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, res);
}

afterEach(async () => {
  // The token must never be logged, whatever the test did.
  for (const line of logLines) {
    expect(line).not.toContain(CANARY_TOKEN);
    expect(line).not.toContain(CANARY_TOKEN_NEXT);
    expect(line).not.toMatch(/Bearer /);
    expect(line, "an API key in a log line").not.toMatch(API_KEY_IN_TEXT);
    expect(line, "a stack trace in a log line").not.toMatch(STACK_FRAME);
  }
  expect(offNetwork, "requests that left for a host other than the fake").toEqual([]);
  const refused = kvRefusals.splice(0);
  vi.restoreAllMocks();
  expect(globalThis.fetch).toBe(realFetch);
  // Storage is not isolated per test in this pool generation: clear KV ourselves, and start
  // the budget keeper afresh (its permit window lives in its memory as well as its storage).
  await reset();
  await abortAllDurableObjects();
  // A write production KV refuses is lost data there, however gracefully the Worker logs it.
  // Tests that provoke one on purpose take it with takeKvRefusals(). (Asserted last, so a
  // failure here still leaves KV and the mocks clean for the next test.)
  expect(refused, "KV operations production would refuse").toEqual([]);
});
