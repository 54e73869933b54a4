import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { hitLane } from "../../src/routes/hit-lane";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { laneHelpers, snapshot } from "../helpers/lane";
import { signedPurge } from "../helpers/purge";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

/**
 * The hit lane's cards (src/routes/hit-lane.ts, `heldCard` in routes/widgets.ts): an HTML card
 * whose data and drawing this isolate holds is answered without Hono. For every card it
 * answers, the Hono app (createApp, which has no lane) must give the same status, body and
 * headers, and count the same memory hits; everything else it must leave untouched.
 */

const IP = "203.0.113.60";

const { request, bothWays, declines } = laneHelpers(IP, "card-lane-1");

/** Draws the card (its data fetched, its drawing kept), as a first view does. */
async function drawn(path: string, envOverride: Partial<Env> = {}) {
  const res = await call(path, {}, envOverride);
  expect(res.status, path).toBe(200);
  return res;
}

describe("the lane answers a held card exactly as the app would", () => {
  it.each([
    ["a track (its waveform read too)", "/widget/track/1", "/widget/track/1", 2],
    ["an artist", "/widget/artist/3", "/widget/artist/3", 1],
    ["an album", "/widget/album/1", "/widget/album/1", 1],
    ["a playlist", "/widget/playlist/1", "/widget/playlist/1", 1],
    ["options: theme, accent and size", "/widget/track/2?theme=dark&accent=00aa55&size=compact", undefined, 2],
    ["the waveform hidden, which is not read", "/widget/track/2?hide=waveform", undefined, 1],
    [
      "the same options in another order, with a tracking parameter",
      "/widget/track/2?size=compact&utm_source=x&accent=00aa55&theme=dark",
      "/widget/track/2?theme=dark&accent=00aa55&size=compact",
      2,
    ],
    ["a path escape Hono decodes", "/widget/track/%33", "/widget/track/3", 2],
  ])("%s", async (_name, path, prime, reads) => {
    useClock(Date.UTC(2026, 11, 7, 9, 0, 0));
    await drawn(prime ?? path);
    const { lane, app, laneHits, appHits } = await bothWays(path);
    expect(lane.status).toBe(200);
    expect(lane.headers).toContainEqual(["content-type", "text/html; charset=utf-8"]);
    expect(lane.headers).toContainEqual(["cache-status", expect.stringContaining("detail=memory")]);
    expect(lane).toEqual(app);
    expect(laneHits).toBe(reads);
    expect(appHits).toBe(reads);
  });

  it("conditional requests: a matching ETag (plain, weak, in a list, or *) is a 304, another one a 200", async () => {
    useClock(Date.UTC(2026, 11, 7, 9, 1, 0));
    const first = await drawn("/widget/track/4");
    const etag = first.headers.get("ETag") as string;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*", '"other"']) {
      const { lane, app } = await bothWays("/widget/track/4", { headers: { "If-None-Match": inm } });
      expect(lane.status).toBe(inm === '"other"' ? 200 : 304);
      expect(lane).toEqual(app);
    }
  });

  it("an older copy: its Age, and a stale one served while one refresh of each read starts", async () => {
    const clock = useClock(Date.UTC(2026, 11, 7, 9, 2, 0));
    await drawn("/widget/artist/5");
    clock.advance(9_000);
    const aged = await bothWays("/widget/artist/5");
    expect(aged.lane.headers).toContainEqual(["age", "9"]);
    expect(aged.lane).toEqual(aged.app);

    clock.advance(DOCUMENTED_POLICY.entity.soft * 1000);
    const before = upstreamPaths().length;
    const stale = await bothWays("/widget/artist/5");
    expect(stale.lane.headers).toContainEqual([
      "cache-status",
      expect.stringContaining("detail=stale-while-revalidate"),
    ]);
    expect(stale.lane).toEqual(stale.app);
    expect(upstreamPaths().slice(before)).toEqual(["/artists/5"]);
  });

  it("logs the same line, with the route's pattern and the anonymous client", async () => {
    useClock(Date.UTC(2026, 11, 7, 9, 3, 0));
    const all = { REQUEST_LOG: "all" };
    await drawn("/widget/album/2?theme=dark", all);
    logLines.length = 0;
    await bothWays("/widget/album/2?theme=dark", {}, all);
    const [lane, app] = logLines.map((l) => JSON.parse(l));
    expect(logLines).toHaveLength(2);
    expect(lane).toEqual(app);
    expect(lane).toMatchObject({
      event: "request",
      route: "/widget/:kind/:file",
      status: 200,
      cache: "hit",
      client_tier: "anon",
    });
  });

  it("is what the Worker's entry answers, read from no request.cf", async () => {
    useClock(Date.UTC(2026, 11, 7, 9, 4, 0));
    await drawn("/widget/track/5");
    const req = request("/widget/track/5");
    let cfReads = 0;
    Object.defineProperty(req, "cf", {
      get: () => {
        cfReads++;
        return { colo: "LHR" };
      },
    });
    const res = await worker.fetch(req, env as Env, createExecutionContext());
    const lane = hitLane(request("/widget/track/5"), env as Env, createExecutionContext()) as Response;
    expect((await snapshot(res)).body).toBe(await lane.text());
    expect(cfReads).toBe(0);
  });
});

describe("what the lane leaves to the app, having done nothing", () => {
  it("other methods, an API key, the other formats, and paths the router does not match", async () => {
    useClock(Date.UTC(2026, 11, 7, 9, 5, 0));
    await drawn("/widget/track/6");
    await drawn("/widget/track/6.svg");
    expect(hitLane(request("/widget/track/6"), env as Env, createExecutionContext())).toBeInstanceOf(Response);
    for (const method of ["HEAD", "POST", "OPTIONS"]) declines(request("/widget/track/6", { method }));
    declines(request("/widget/track/6", { headers: { "X-Api-Key": "bpe_whatever" } }));
    for (const path of [
      "/widget/track/6.svg",
      "/widget/track/6.png",
      "/widget/track/6/",
      "/widget//track/6",
      "/widget/track/%256",
      "/Widget/track/6",
      "/widget/tracks/6",
      "/widget/track",
    ])
      declines(request(path));
  });

  it("ids and options never validated: the app refuses them", async () => {
    useClock(Date.UTC(2026, 11, 7, 9, 6, 0));
    await drawn("/widget/track/7");
    for (const id of ["07", "0", "7.0", "+7", "99999999999"]) {
      declines(request(`/widget/track/${id}`));
      expectProblem(await call(`/widget/track/${id}`), 400, "invalid_request");
      declines(request(`/widget/track/${id}`));
    }
    declines(request("/widget/track/7?theme=neon"));
    expectProblem(await call("/widget/track/7?theme=neon"), 400, "invalid_request");
    declines(request("/widget/track/7?theme=neon"));
  });

  it("a card not drawn yet, data not in memory, a missing waveform, a card for another configuration", async () => {
    const clock = useClock(Date.UTC(2026, 11, 7, 9, 7, 0));
    // The track's data in memory (its JSON read), the card never drawn.
    await call("/v1/tracks/8");
    await call("/v1/tracks/8/wave");
    declines(request("/widget/track/8"));
    await drawn("/widget/track/8");
    expect(hitLane(request("/widget/track/8"), env as Env, createExecutionContext())).toBeInstanceOf(Response);
    // Options validated (for track 8) but never drawn for this card.
    declines(request("/widget/track/1?theme=dark&accent=00aa55&size=compact&hide=price"));
    // Another frame-ancestors: the drawing held is not this configuration's.
    declines(request("/widget/track/8"), { ...env, FRAME_ANCESTORS: "https://site.example" } as Env);
    // A track BeatPass has no waveform for: the app draws the card without it, every time.
    fake.addFault({ kind: "status", status: 404, path: "/tracks/9/wave" });
    await drawn("/widget/track/9");
    await drawn("/widget/track/9");
    declines(request("/widget/track/9"));
    // Past the hard window the copy is no answer from memory.
    clock.advance(DOCUMENTED_POLICY.entity.hard * 1000);
    declines(request("/widget/track/8"));
  });

  it("a card whose track was purged: the app fetches the track again and draws it anew", async () => {
    const clock = useClock(Date.UTC(2026, 11, 7, 9, 8, 0));
    await drawn("/widget/track/10");
    // A purge covers copies fetched before it.
    clock.advance(1_000);
    expect(hitLane(request("/widget/track/10"), env as Env, createExecutionContext())).toBeInstanceOf(Response);
    const secret = "purge-secret-for-card-lane-0123456789";
    const purge = await signedPurge(secret, JSON.stringify({ resources: ["track:10"] }));
    expect((await call("/hooks/purge", purge, { PURGE_WEBHOOK_SECRET: secret })).status).toBe(200);
    declines(request("/widget/track/10"));
    const before = upstreamPaths().length;
    await drawn("/widget/track/10");
    expect(upstreamPaths().slice(before)).toContain("/tracks/10");
  });
});
