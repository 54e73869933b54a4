import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import type { Env } from "../../src/env";
import { type Problem, problemSchema } from "../../src/errors";
import worker from "../../src/index";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT } from "./constants";

export const ORIGIN = "https://proxy.test";

export interface Called {
  status: number;
  headers: Headers;
  text: string;
  json: () => any;
}

/**
 * Calls the Worker entry with a fresh ExecutionContext and waits for its waitUntil work
 * (KV writes), so a following request sees what this one stored. Every response is checked
 * for the cross-cutting promises: X-Request-Id, an explicit Cache-Control, and no token.
 */
export async function call(path: string, init: RequestInit = {}, envOverride: Partial<Env> = {}): Promise<Called> {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, init);
  // Each call looks like a new anonymous client, so per-IP limits only bite in the tests
  // about them (which set CF-Connecting-IP themselves).
  if (!req.headers.has("CF-Connecting-IP")) req.headers.set("CF-Connecting-IP", nextClientIp());
  const res = await worker.fetch(req, { ...env, ...envOverride }, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return checked(res, text);
}

/** The checks `call` makes on every response, for responses obtained some other way. */
export function checked(res: Response, text: string): Called {
  assertSafe(res.headers, text);
  expect(res.headers.get("X-Request-Id"), "X-Request-Id on every response").toBeTruthy();
  expect(res.headers.get("Cache-Control"), "explicit Cache-Control on every response").toBeTruthy();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

let clientCounter = 0;
function nextClientIp(): string {
  clientCounter++;
  return `10.${(clientCounter >> 16) & 255}.${(clientCounter >> 8) & 255}.${clientCounter & 255}`;
}

/** The token, the Authorization scheme and stack traces never reach a viewer. */
export function assertSafe(headers: Headers, body: string): void {
  for (const [name, value] of headers) {
    expect(value, `header ${name}`).not.toContain(CANARY_TOKEN);
    expect(value, `header ${name}`).not.toContain(CANARY_TOKEN_NEXT);
    expect(name.toLowerCase()).not.toBe("authorization");
  }
  expect(body).not.toContain(CANARY_TOKEN);
  expect(body).not.toContain(CANARY_TOKEN_NEXT);
  expect(body).not.toMatch(/Bearer\s/);
  expect(body).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
}

// README, "How caching works": problems are no-store except not_found (60 s) and gone (300 s).
const CACHEABLE_PROBLEM_SECONDS: Record<string, number> = { not_found: 60, gone: 300 };

/**
 * Asserts an RFC 9457 problem response with the given status and code, and returns its body.
 * Also holds every problem to the README's promises: its cache rule, and a Retry-After on
 * every 429 and every 502-504 (a 500 is our bug and a 501 will not change by waiting).
 */
export function expectProblem(res: Called, status: number, code: string): Problem {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  const body = problemSchema.parse(res.json());
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.request_id).toBe(res.headers.get("X-Request-Id"));
  expect(body.type).toBe(`${ORIGIN}/problems/${code}`);
  const maxAge = CACHEABLE_PROBLEM_SECONDS[code];
  expect(res.headers.get("Cache-Control"), `Cache-Control of ${code}`).toBe(
    maxAge ? `public, max-age=${maxAge}` : "no-store",
  );
  if (status === 429 || (status >= 502 && status <= 504))
    expect(res.headers.get("Retry-After"), `Retry-After of ${code}`).toMatch(/^[1-9][0-9]*$/);
  return body;
}
