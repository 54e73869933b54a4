import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_PNG_WIDTHS, DOCUMENTED_REFUSAL_PAUSE_MS, DOCUMENTED_RENDER_LIMITS } from "../helpers/documented";
import { parse, text } from "../helpers/dom";
import { type Called, call, checked, expectProblem, ORIGIN } from "../helpers/request";
import { fake } from "../helpers/upstream";
import { clockedRateLimit } from "../helpers/window";

/**
 * Renders cost their client (docs/widgets.md, "Limits"): an SVG or PNG card no memo holds is
 * charged to the client's render budget, memo hits are free, error cards are kept like cards,
 * widths snap to a few sizes, and a flood of one-off cards cannot push out the cards viewers
 * keep asking for. Renders are counted where they happen: PNGs at the RASTER binding (every
 * SVG it is handed), SVG cards by the bytes the memo would hold (below).
 */

const RENDER_LIMIT = DOCUMENTED_RENDER_LIMITS.anon.limit;

interface Bytes extends Called {
  bytes: Uint8Array;
}

let clients = 0;
/** `call` for binary bodies; each request from an address of its own (198.19.0.0/16) unless it sets one. */
async function callBytes(path: string, init: RequestInit = {}, envOverride: Partial<Env> = {}): Promise<Bytes> {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, init);
  clients++;
  if (!req.headers.has("CF-Connecting-IP"))
    req.headers.set("CF-Connecting-IP", `198.19.${(clients >> 8) & 255}.${clients & 255}`);
  const res = await worker.fetch(req, { ...env, ...envOverride }, ctx);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { ...checked(res, new TextDecoder("latin1").decode(bytes)), bytes };
}

function pngDimensions(bytes: Uint8Array): { width: number; height: number } {
  expect([...bytes.slice(0, 8)], "PNG signature").toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** The real rasteriser, with every SVG it is handed kept: what was drawn, in order. */
function countingRaster(): { RASTER: Fetcher; drawn: string[] } {
  const drawn: string[] = [];
  const RASTER = {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      drawn.push(typeof init?.body === "string" ? init.body : "");
      return env.RASTER!.fetch(input, init);
    },
  } as unknown as Fetcher;
  return { RASTER, drawn };
}

/** The paused card's heading, as drawn into the SVG handed to the rasteriser. */
const PAUSED = "Card paused";
const isPaused = (svg: string) => svg.includes(PAUSED);

let accents = 0;
/** A new accent each call: a card no one asked for before. */
const nextAccent = () => (0x100000 + ++accents).toString(16);

const from = (ip: string, extra: Record<string, string> = {}): RequestInit => ({
  headers: { "CF-Connecting-IP": ip, ...extra },
});

describe("the render budget", () => {
  it("200 PNGs with random accents from one address, 20 at a time: the budget's worth drawn, the paused card once, the rest 429 with Retry-After and the paused card, each after the pause; another address is unaffected", {
    timeout: 120_000,
  }, async () => {
    useClock();
    const { RASTER, drawn } = countingRaster();
    let limiterCalls = 0;
    const limiter = clockedRateLimit(DOCUMENTED_RENDER_LIMITS.anon);
    const RENDER_LIMIT_ANON: RateLimit = {
      limit: (options) => {
        limiterCalls++;
        return limiter.limit(options);
      },
    };
    const limits: Partial<Env> = { RASTER, RENDER_LIMIT_ANON };
    const ip = "203.0.113.240";
    // The card's data and artwork cached first (by another address), as for a card in use.
    expect((await callBytes("/widget/track/3.png", from("203.0.113.238"), limits)).status).toBe(200);
    drawn.length = 0;
    limiterCalls = 0;
    const BATCH = 20;
    const answers: (Bytes & { accent: string; ms: number })[] = [];
    for (let i = 0; i < 200; i += BATCH) {
      const batch = Array.from({ length: BATCH }, async () => {
        const accent = nextAccent();
        const t0 = performance.now();
        const res = await callBytes(`/widget/track/3.png?accent=${accent}`, from(ip), limits);
        return { ...res, accent, ms: performance.now() - t0 };
      });
      answers.push(...(await Promise.all(batch)));
    }

    // Cards drawn: exactly the budget. The paused card is drawn once (requests waiting for
    // it while it is drawn share that drawing), then served from memory.
    expect(drawn.filter((svg) => !isPaused(svg))).toHaveLength(RENDER_LIMIT);
    expect(drawn.filter(isPaused)).toHaveLength(1);
    const served = answers.filter((res) => res.status === 200);
    const refused = answers.filter((res) => res.status !== 200);
    expect(served).toHaveLength(RENDER_LIMIT);
    for (const res of served) {
      expect(res.headers.get("X-Problem-Code")).toBeNull();
      expect(pngDimensions(res.bytes)).toEqual({ width: 1200, height: 630 });
    }
    expect(refused).toHaveLength(200 - RENDER_LIMIT);
    for (const res of refused) {
      expect(res.status).toBe(429);
      expect(res.headers.get("X-Problem-Code")).toBe("render_budget");
      expect(res.headers.get("Retry-After")).toBe(String(DOCUMENTED_RENDER_LIMITS.anon.periodSeconds));
      const period = DOCUMENTED_RENDER_LIMITS.anon.periodSeconds;
      expect(res.headers.get("RateLimit")).toBe(`"anon-renders";r=0;t=${period}`);
      expect(res.headers.get("RateLimit-Policy")).toBe(`"anon-renders";q=${RENDER_LIMIT};w=${period}`);
      // About this viewer's network, not the card: no shared cache may keep it.
      expect(res.headers.get("Cache-Control")).toBe("private, no-store");
      expect(res.headers.get("Content-Type")).toBe("image/png");
      expect(pngDimensions(res.bytes)).toEqual({ width: 1200, height: 630 });
      // Sent after the pause (a lower bound: holds however slow the machine is).
      expect(res.ms).toBeGreaterThanOrEqual(DOCUMENTED_REFUSAL_PAUSE_MS);
    }
    // The clock stands still, so the refusal is remembered: the limiter is asked at most once
    // per request of the batch that first found the budget spent, not once per refusal.
    expect(limiterCalls).toBeLessThanOrEqual(RENDER_LIMIT + BATCH);

    // The cards this address had drawn are still served from memory (their second request), free.
    for (const { accent } of served) {
      const seen = await callBytes(`/widget/track/3.png?accent=${accent}`, from(ip), limits);
      expect([seen.status, seen.headers.get("X-Problem-Code")], `accent ${accent} again`).toEqual([200, null]);
    }
    // An error card not yet drawn is a render too: refused the same way.
    const missing = await callBytes("/widget/track/999.png?theme=dark", from(ip), limits);
    expect([missing.status, missing.headers.get("X-Problem-Code")]).toEqual([429, "render_budget"]);
    // The SVG card is refused alike, as an SVG.
    const svg = await call(`/widget/track/3.svg?accent=${nextAccent()}`, from(ip), limits);
    expect([svg.status, svg.headers.get("Content-Type")]).toEqual([429, "image/svg+xml; charset=utf-8"]);
    expect(text(parse(svg.text, true))).toContain(PAUSED);
    // HTML cards are not charged (drawing one costs about what serving it does).
    const html = await call(`/widget/track/3?accent=${nextAccent()}`, from(ip), limits);
    expect([html.status, html.headers.get("X-Problem-Code")], "html").toEqual([200, null]);

    // Another address gets its own budget.
    const before = drawn.length;
    const other = await callBytes(`/widget/track/3.png?accent=${nextAccent()}`, from("203.0.113.241"), limits);
    expect([other.status, other.headers.get("X-Problem-Code")], "other").toEqual([200, null]);
    expect(drawn.length).toBe(before + 1);
  });

  it("a missing track's PNG asked 12 times at once is drawn once and charged once", async () => {
    const { RASTER, drawn } = countingRaster();
    let limiterCalls = 0;
    const RENDER_LIMIT_ANON: RateLimit = {
      limit: async () => {
        limiterCalls++;
        return { success: true };
      },
    };
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        callBytes("/widget/track/997.png?theme=dark&size=compact", from("203.0.113.239"), {
          RASTER,
          RENDER_LIMIT_ANON,
        }),
      ),
    );
    for (const res of answers) expect([res.status, res.headers.get("X-Problem-Code")]).toEqual([200, "not_found"]);
    expect(drawn).toHaveLength(1);
    expect(limiterCalls).toBe(1);
  });

  it("a caller that asks for JSON first gets the refusal as problem+json, with Retry-After", async () => {
    useClock();
    const limits: Partial<Env> = { RENDER_LIMIT_ANON: clockedRateLimit({ limit: 1, periodSeconds: 60 }) };
    const ip = "203.0.113.242";
    expect((await call(`/widget/track/1.svg?accent=${nextAccent()}`, from(ip), limits)).status).toBe(200);
    for (const accept of ["application/json", "application/problem+json, image/*;q=0.5"]) {
      const res = await call(`/widget/track/1.svg?accent=${nextAccent()}`, from(ip, { Accept: accept }), limits);
      const problem = expectProblem(res, 429, "render_budget");
      expect(problem.detail).toMatch(/drawn afresh/);
      expect(res.headers.get("RateLimit")).toBe(`"anon-renders";r=0;t=${DOCUMENTED_RENDER_LIMITS.anon.periodSeconds}`);
    }
    // A browser's or image proxy's Accept gets the card.
    const img = await call(
      `/widget/track/1.svg?accent=${nextAccent()}`,
      from(ip, { Accept: "image/avif,image/webp,image/svg+xml,image/*,*/*;q=0.8" }),
      limits,
    );
    expect([img.status, img.headers.get("Content-Type")]).toEqual([429, "image/svg+xml; charset=utf-8"]);
  });

  it("a card already drawn is free: one address asking for the same PNG 200 times draws it once, never refused", {
    timeout: 60_000,
  }, async () => {
    useClock();
    const { RASTER, drawn } = countingRaster();
    const limits: Partial<Env> = { RASTER, RENDER_LIMIT_ANON: clockedRateLimit(DOCUMENTED_RENDER_LIMITS.anon) };
    const accent = nextAccent();
    for (let i = 0; i < 200; i++) {
      const res = await callBytes(`/widget/track/1.png?accent=${accent}`, from("203.0.113.243"), limits);
      expect([res.status, res.headers.get("X-Problem-Code")]).toEqual([200, null]);
    }
    expect(drawn).toHaveLength(1);
  });

  it("error cards are kept like cards: a missing track's PNG with 40 random accents is drawn once", async () => {
    const { RASTER, drawn } = countingRaster();
    for (let i = 0; i < 40; i++) {
      const res = await callBytes(`/widget/track/999.png?accent=${nextAccent()}`, {}, { RASTER });
      expect([res.status, res.headers.get("X-Problem-Code")]).toEqual([200, "not_found"]);
      expect(pngDimensions(res.bytes)).toEqual({ width: 1200, height: 630 });
    }
    expect(drawn).toHaveLength(1);
    // Another missing id says the same words: the same card.
    expect((await callBytes("/widget/track/998.png", {}, { RASTER })).headers.get("X-Problem-Code")).toBe("not_found");
    expect(drawn).toHaveLength(1);
  });

  it("widths snap to the nearest drawn width (the smaller on a tie), so nearby widths are one image", async () => {
    const { RASTER, drawn } = countingRaster();
    const cases: [number, number][] = [
      [200, 200],
      [249, 200],
      [250, 200],
      [251, 300],
      [321, 300],
      [499, 400],
      [700, 600],
      [701, 800],
      [1000, 800],
      [1001, 1200],
      [1200, 1200],
    ];
    for (const [asked, width] of cases) {
      expect(DOCUMENTED_PNG_WIDTHS).toContain(width);
      const res = await callBytes(`/widget/track/2.png?theme=dark&width=${asked}`, {}, { RASTER });
      expect(res.status).toBe(200);
      expect(pngDimensions(res.bytes), `width=${asked}`).toEqual({ width, height: Math.round((width * 630) / 1200) });
    }
    // 11 widths asked, 6 drawn; width=1200 is the default preview.
    expect(drawn).toHaveLength(6);
    const full = await callBytes("/widget/track/2.png?theme=dark", {}, { RASTER });
    const asked = await callBytes("/widget/track/2.png?theme=dark&width=1100", {}, { RASTER });
    expect(asked.headers.get("ETag")).toBe(full.headers.get("ETag"));
    expect(drawn).toHaveLength(6);
  });
});

describe("the card memo under a flood of one-off cards", () => {
  /** Artwork near the size cap: each SVG card inlines it (~250 KB as the memo counts it). */
  function largeArtwork() {
    fake.addFault({
      kind: "status",
      status: 200,
      path: "/images/tracks/1",
      body: "x".repeat(90_000),
      headers: { "Content-Type": "image/png" },
    });
  }

  /** `n` SVG cards no one asks for again, each from an address of its own: 2 MiB of them every 8. */
  async function flood(n: number) {
    for (let i = 0; i < n; i++) {
      const res = await call(`/widget/track/1.svg?accent=${nextAccent()}`);
      expect([res.status, res.headers.get("X-Problem-Code")]).toEqual([200, null]);
    }
  }

  it("keeps a card viewers ask for again through 16 MB of one-off cards", { timeout: 60_000 }, async () => {
    largeArtwork();
    const { RASTER, drawn } = countingRaster();
    const hot = "/widget/track/2.png?theme=dark&size=compact";
    for (let i = 0; i < 2; i++) expect((await callBytes(hot, {}, { RASTER })).status).toBe(200);
    expect(drawn).toHaveLength(1);
    // Twice the whole card memo's 8 MiB in cards asked for once.
    await flood(64);
    const again = await callBytes(hot, {}, { RASTER });
    expect([again.status, again.headers.get("X-Problem-Code")]).toEqual([200, null]);
    expect(drawn).toHaveLength(1);
  });

  it("a card asked for again after the flood pushed out its first drawing is kept from its second", {
    timeout: 60_000,
  }, async () => {
    largeArtwork();
    const { RASTER, drawn } = countingRaster();
    const site = "/widget/track/2.png?accent=7c3aed&layout=card";
    expect((await callBytes(site, {}, { RASTER })).status).toBe(200);
    await flood(24);
    expect((await callBytes(site, {}, { RASTER })).status).toBe(200);
    expect(drawn).toHaveLength(2);
    await flood(64);
    expect((await callBytes(site, {}, { RASTER })).status).toBe(200);
    expect(drawn).toHaveLength(2);
  });
});
