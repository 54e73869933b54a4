import { expect } from "vitest";
import { type Problem, problemSchema } from "../../src/errors";

// README, "How caching works": problems are no-store except not_found (60 s) and gone (300 s).
const CACHEABLE_PROBLEM_SECONDS: Record<string, number> = { not_found: 60, gone: 300 };

/**
 * Asserts an RFC 9457 problem response with the given status and code (schema: src/errors.ts)
 * and returns its body. Also holds every problem to the README's promises: its `type` under
 * the origin the Worker saw, its cache rule, and a Retry-After on every 429 and every 5xx
 * but 501 (which will not change by waiting). Plain Node: the workerd helpers
 * (request.ts) and the fleet's (test/fleet/fleet.ts) both wrap it.
 */
export function expectProblemResponse(
  res: { status: number; headers: Headers; text: string; json: () => unknown },
  status: number,
  code: string,
  origin: string,
): Problem {
  expect(res.status, `status of ${res.text.slice(0, 200)}`).toBe(status);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  const body = problemSchema().parse(res.json());
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.request_id).toBe(res.headers.get("X-Request-Id"));
  expect(body.type).toBe(`${origin}/problems/${code}`);
  const maxAge = CACHEABLE_PROBLEM_SECONDS[code];
  expect(res.headers.get("Cache-Control"), `Cache-Control of ${code}`).toBe(
    maxAge ? `public, max-age=${maxAge}` : "no-store",
  );
  // README, "Errors": Retry-After on every 429 and every 5xx but the one a retry cannot cure.
  if (status === 429 || (status >= 500 && code !== "unsupported_format"))
    expect(res.headers.get("Retry-After"), `Retry-After of ${code}`).toMatch(/^[1-9][0-9]*$/);
  if (code === "unsupported_format") expect(res.headers.get("Retry-After")).toBeNull();
  return body;
}
