import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
// The live estimates are what is under test; the Worker's own table is only checked against the documented one.
import { MEMO_BUDGET_BYTES, type MemoName, memoBytes } from "../../src/lib/memo-budget";
import { CATALOG_PATHS } from "../../src/routes/catalog";
import { call, ORIGIN } from "../helpers/request";
import { fake } from "../helpers/upstream";

// Every Workers Rate Limiting binding swapped for one that always allows: the local limiter
// costs ~2 ms a request, and limits are not what these tests are about (thousands of requests).
const UNLIMITED = Object.fromEntries(
  Object.entries(env)
    .filter(([, v]) => typeof (v as { limit?: unknown } | null)?.limit === "function")
    .map(([name]) => [name, { limit: async () => ({ success: true }) }]),
);
const UNLIMITED_ENV = { ...env, ...UNLIMITED };

const KiB = 1024;
const MiB = 1024 * KiB;
// CONTRIBUTING.md ("32 MiB in all") and docs/caching.md, "Memory": every memo together.
const DOCUMENTED_TOTAL_BYTES = 32 * MiB;
// docs/caching.md, "Memory": each memo's own budget.
const DOCUMENTED_BUDGETS: Record<MemoName, number> = {
  "memory-tier": 16 * MiB,
  cards: 8 * MiB,
  validated: 2 * MiB,
  "last-kv-write": 1 * MiB,
  "hot-keys": 1 * MiB,
  "api-keys": 1 * MiB,
  "widget-options": 256 * KiB,
  "csp-hashes": 256 * KiB,
  "ip-keys": 256 * KiB,
  "local-limits": 256 * KiB,
  "render-refusals": 64 * KiB,
  feeds: 1 * MiB,
  "feed-seen": 256 * KiB,
};

function expectWithinBudgets(when: string): void {
  const { total, byMemo } = memoBytes();
  expect(total, `all memos ${when}`).toBeLessThanOrEqual(DOCUMENTED_TOTAL_BYTES);
  let sum = 0;
  for (const [name, bytes] of Object.entries(byMemo)) {
    expect(bytes, `${name} ${when}`).toBeLessThanOrEqual(DOCUMENTED_BUDGETS[name as MemoName]);
    sum += bytes;
  }
  expect(total).toBe(sum);
}

/**
 * GETs `paths` one after another through the Worker entry and then waits for their waitUntil
 * work, as `call()` does for one request. 34,000 requests go through here: call()'s checks and
 * a wait per request cost ~1 ms each, this ~0.06 ms. (A sample of the URLs goes through call().)
 */
async function getAll(paths: string[]): Promise<number[]> {
  const ctx = createExecutionContext();
  const statuses: number[] = [];
  for (const [i, path] of paths.entries()) {
    // A client of its own per request: clients are also counted in the isolate, whatever the bindings say.
    const ip = `10.200.${i >> 8}.${i & 255}`;
    const req = new Request(`${ORIGIN}${path}`, { headers: { "CF-Connecting-IP": ip } });
    const res = await worker.fetch(req, UNLIMITED_ENV, ctx);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  await waitOnExecutionContext(ctx);
  return statuses;
}

/** How many SHA-256 digests the Worker computes while `run` runs (ETags, hashed keys, CSP hashes). */
async function digestsDuring(run: () => Promise<unknown>): Promise<number> {
  const spy = vi.spyOn(crypto.subtle, "digest");
  try {
    await run();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

const hex = (i: number) => ((i * 2_654_435_761) >>> 8).toString(16).padStart(6, "0").slice(-6);

describe("in-isolate memos stay within their byte budgets", () => {
  it("every memo the Worker measures has its documented budget, and together they keep to the documented total", () => {
    expect(Object.keys(memoBytes().byMemo).sort()).toEqual(Object.keys(DOCUMENTED_BUDGETS).sort());
    for (const [name, budget] of Object.entries(DOCUMENTED_BUDGETS))
      expect(MEMO_BUDGET_BYTES[name as MemoName], name).toBe(budget);
    const sum = Object.values(MEMO_BUDGET_BYTES).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(DOCUMENTED_TOTAL_BYTES);
  });

  const ACCENTS = Array.from({ length: 500 }, (_, i) => hex(i + 1));

  // 500 card renders, about 1.5 ms each idle.
  it("500 distinct accents on one HTML card", { timeout: 30_000 }, async () => {
    expect(new Set(ACCENTS).size).toBe(500);
    for (const [i, accent] of ACCENTS.entries()) {
      const html = await call(`/widget/track/1?accent=${accent}`, {}, UNLIMITED);
      expect(html.status).toBe(200);
      expect(html.text).toContain(`#${accent}`);
      if (i % 50 === 49) expectWithinBudgets(`after ${i + 1} accents`);
    }
    expect(memoBytes().byMemo.cards).toBeGreaterThan(0);
    expect(memoBytes().byMemo["csp-hashes"]).toBeGreaterThan(0);
  });

  // 500 card renders, about 1.5 ms each idle.
  it("500 distinct accents on one SVG card with large artwork", { timeout: 30_000 }, async () => {
    // Artwork near the size cap, as real covers are: each SVG card inlines it (~120 KB of text).
    fake.addFault({
      kind: "status",
      status: 200,
      path: "/images/tracks/1",
      body: "x".repeat(90_000),
      headers: { "Content-Type": "image/png" },
    });
    let svgChars = 0;
    for (const [i, accent] of ACCENTS.entries()) {
      const svg = await call(`/widget/track/1.svg?accent=${accent}`, {}, UNLIMITED);
      expect(svg.status).toBe(200);
      expect(svg.text).toContain(`#${accent}`);
      expect(svg.text).toContain("data:image/png;base64,");
      svgChars += svg.text.length;
      if (i % 50 === 49) expectWithinBudgets(`after ${i + 1} accents`);
    }
    // Kept whole, these cards alone would pass the whole budget: the bound did the work.
    expect(svgChars * 2).toBeGreaterThan(DOCUMENTED_TOTAL_BYTES);
    expect(memoBytes().byMemo.cards).toBeGreaterThan(0);
  });

  const ROUTES = [
    "/v1/tracks?per_page=5&query=midnight",
    "/v1/tracks/1",
    "/v1/tracks/3/lyrics",
    "/v1/tracks/3/wave",
    "/v1/albums?page=2&per_page=3",
    "/v1/albums/1?with=genres",
    "/v1/artists",
    "/v1/artists/3?with=albums,topTracks",
    "/v1/artists/8/tracks?perPage=2",
    "/v1/artists/3/albums",
    "/v1/playlists/1",
    "/v1/playlists/2/tracks?per_page=4&page=2",
    "/v1/genres",
    "/v1/tags/dark/tracks",
    "/v1/tags/mellow/albums",
    "/v1/search?query=night&types=track,album&limit=2",
    "/v1/users/2",
  ];
  const PAD = "j".repeat(1000);

  it("the list of routes above covers every /v1 route", () => {
    const patterns = CATALOG_PATHS.map((path) => new RegExp(`^/v1${path.replace(/:[a-z]+/g, "[^/]+")}$`));
    for (const p of patterns)
      expect(
        ROUTES.some((r) => p.test(r.split("?")[0] ?? "")),
        String(p),
      ).toBe(true);
  });

  // 2,000 requests a route, about 0.06 ms each idle (0.2 ms with both cores busy).
  it.each(ROUTES)("2,000 junk-padded URLs on %s add no memo entries", { timeout: 30_000 }, async (route) => {
    const sep = route.includes("?") ? "&" : "?";
    expect((await call(route, {}, UNLIMITED)).status).toBe(200);
    const before = memoBytes().byMemo;
    // Unknown names with long values, and long unknown names.
    const junk = Array.from({ length: 2000 }, (_, i) => (i % 2 ? `utm_${i}=${PAD}` : `${PAD}=${i}&_=${i}`));
    const statuses = await getAll(junk.map((j) => `${route}${sep}${j}`));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect((await call(`${route}${sep}utm_last=${PAD}`, {}, UNLIMITED)).status).toBe(200);
    const after = memoBytes().byMemo;
    for (const name of ["validated", "memory-tier", "hot-keys", "last-kv-write"] as const)
      expect(after[name], name).toBe(before[name]);
    expectWithinBudgets(`after junk on ${route}`);
  });

  it("a known parameter padded past what is worth remembering is validated each time instead", async () => {
    expect((await call("/v1/search?query=night&limit=2")).status).toBe(200);
    const before = memoBytes().byMemo.validated;
    const padded = Array.from({ length: 200 }, (_, i) => `/v1/search?query=${"%20".repeat(600 + i)}night&limit=2`);
    expect((await getAll(padded)).filter((s) => s !== 200)).toEqual([]);
    expect(memoBytes().byMemo.validated).toBe(before);
  });
});

describe("the memos still do their job", () => {
  it("a card seen before is served from the memo, whatever junk or spelling the URL adds", async () => {
    expect(await digestsDuring(() => call("/widget/track/1?accent=aabbcc"))).toBeGreaterThan(0);
    expect(await digestsDuring(() => call("/widget/track/1?accent=aabbcc"))).toBe(0);
    expect(await digestsDuring(() => call("/widget/track/1?accent=aabbcc&utm_source=x&ref=y"))).toBe(0);
    // The same options spelled differently are the same card.
    expect(await digestsDuring(() => call("/widget/track/1?accent=%23ABC&theme=auto&size=standard"))).toBe(0);
    expect(await digestsDuring(() => call("/widget/track/1.svg?accent=aabbcc"))).toBeGreaterThan(0);
    expect(await digestsDuring(() => call("/widget/track/1.svg?accent=aabbcc"))).toBe(0);
  });

  it("a new card with a theme seen before reuses its stylesheet's CSP hash", async () => {
    await call("/widget/track/1?accent=123456");
    const sameTheme = await digestsDuring(() => call("/widget/track/1?accent=123456&hide=price"));
    const newTheme = await digestsDuring(() => call("/widget/track/1?accent=654321&hide=price"));
    expect(sameTheme).toBeGreaterThan(0);
    expect(sameTheme).toBeLessThan(newTheme);
  });

  it("widget options seen before are not stored again, with or without junk", async () => {
    await call("/widget/track/1?theme=dark&hide=price,bpm");
    const stored = memoBytes().byMemo["widget-options"];
    expect(stored).toBeGreaterThan(0);
    await call("/widget/track/1?theme=dark&hide=price,bpm");
    await call(`/widget/track/1?theme=dark&hide=price,bpm&junk=${"x".repeat(2000)}`);
    expect(memoBytes().byMemo["widget-options"]).toBe(stored);
    await call("/widget/track/1?theme=light");
    expect(memoBytes().byMemo["widget-options"]).toBeGreaterThan(stored);
  });

  it("/v1 parameters seen before skip validation and key building, whatever junk the URL adds", async () => {
    // Long enough in UTF-8 that the cache key is a hash: building it is a digest we can see.
    const path = `/v1/tracks?query=${encodeURIComponent("é".repeat(100))}`;
    expect((await call(path)).status).toBe(200);
    const stored = memoBytes().byMemo.validated;
    expect(await digestsDuring(() => call(path))).toBe(0);
    expect(await digestsDuring(() => call(`${path}&utm_source=${"x".repeat(3000)}`))).toBe(0);
    expect(memoBytes().byMemo.validated).toBe(stored);
  });
});
