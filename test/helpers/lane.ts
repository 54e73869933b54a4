import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import { createApp } from "../../src/app";
import { cacheStats } from "../../src/cache/stats";
import type { Env } from "../../src/env";
import { hitLane } from "../../src/routes/hit-lane";
import { checked, ORIGIN } from "./request";

/**
 * For the hit lane's tests (src/routes/hit-lane.ts): requests from one address with one
 * request id (so the lane's answer and the app's can be compared byte for byte), the two
 * answers side by side, and the check that the lane left a request alone.
 */
export function laneHelpers(ip: string, requestId: string) {
  function request(path: string, init: RequestInit = {}): Request {
    const req = new Request(`${ORIGIN}${path}`, init);
    if (!req.headers.has("CF-Connecting-IP")) req.headers.set("CF-Connecting-IP", ip);
    // One id for both answers: otherwise each makes its own.
    if (!req.headers.has("X-Request-Id")) req.headers.set("X-Request-Id", requestId);
    return req;
  }

  /**
   * The lane's answer and the app's (createApp, which has no lane) to the same request, and
   * the memory hits each counted.
   */
  async function bothWays(path: string, init: RequestInit = {}, envOverride: Partial<Env> = {}) {
    const e = { ...env, ...envOverride } as Env;
    const laneCtx = createExecutionContext();
    const before = cacheStats.hits.memory;
    const lane = hitLane(request(path, init), e, laneCtx);
    const laneHits = cacheStats.hits.memory - before;
    expect(lane, `the lane answers ${path}`).toBeInstanceOf(Response);
    const appCtx = createExecutionContext();
    const app = await createApp().fetch(request(path, init), e, appCtx);
    const appHits = cacheStats.hits.memory - before - laneHits;
    const [l, a] = [await snapshot(lane as Response), await snapshot(app)];
    await waitOnExecutionContext(laneCtx);
    await waitOnExecutionContext(appCtx);
    checked(lane as Response, l.body);
    return { lane: l, app: a, laneHits, appHits };
  }

  /** The lane leaves `req` to the app, having counted no memory hit. */
  function declines(req: Request, e: Env = env as Env): void {
    const hits = cacheStats.hits.memory;
    expect(hitLane(req, e, createExecutionContext()), `${req.method} ${req.url}`).toBeUndefined();
    expect(cacheStats.hits.memory).toBe(hits);
  }

  return { request, bothWays, declines };
}

/** Status, body and every header; Server-Timing's total (a duration) is the one value allowed to differ. */
export async function snapshot(res: Response) {
  const headers = [...res.headers].map(([k, v]) => [
    k,
    k === "server-timing" ? v.replace(/^total;dur=\d+/, "total") : v,
  ]);
  return { status: res.status, body: await res.text(), headers };
}
