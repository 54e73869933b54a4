import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import type { Env } from "../../src/env";
import type { Problem } from "../../src/errors";
import worker from "../../src/index";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT, OPERATOR_KEY } from "./constants";
import { expectProblemResponse } from "./problem";

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
 * for the cross-cutting promises: X-Request-Id, an explicit Cache-Control, and no token. The
 * KV it hands the Worker (unless `envOverride` replaces it) refuses what production KV refuses
 * (helpers/kv.ts, installed by test/setup.ts on every KV binding).
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
/** A distinct address per call, each in a /24 of its own (the budget's fair shares group clients by /24). */
function nextClientIp(): string {
  clientCounter++;
  return `10.${(clientCounter >> 8) & 255}.${clientCounter & 255}.${1 + ((clientCounter >> 16) & 127)}`;
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

/** Asserts an RFC 9457 problem response with the given status and code (helpers/problem.ts), and returns its body. */
export function expectProblem(res: Called, status: number, code: string): Problem {
  return expectProblemResponse(res, status, code, ORIGIN);
}

/** /healthz as the operator sees it (the whole report). */
export function health(envOverride: Partial<Env> = {}): Promise<Called> {
  return call("/healthz", { headers: { "X-Operator-Key": OPERATOR_KEY } }, envOverride);
}
