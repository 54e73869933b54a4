import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as zodMini from "zod/mini";
import { bundleModules } from "../../bench/lib.mjs";
import { buildWorker } from "../../scripts/build-worker.mjs";
import { COMPAT_DATE, COMPAT_FLAGS, storage } from "../../scripts/wrangler-toml.mjs";
import { expectProblemResponse } from "../helpers/problem";
import { FLEET_TOKEN } from "./fleet";

/**
 * A new isolate builds nothing at load that its first request does not need (issue 27): the
 * deployed build, with `zod/mini` replaced by a copy whose every schema factory counts its
 * calls, runs in a fresh workerd. The counts are read through a door in front of the Worker,
 * so asking for them runs none of the Worker's code. Counted, not timed: a busy machine
 * changes nothing here.
 */
const DIR = resolve("test/fleet/.build-cold");
const REAL_ZOD = fileURLToPath(import.meta.resolve("zod/mini"));

// Every lowercase function zod/mini exports builds a schema or a check (its API is functional);
// toJSONSchema is how the OpenAPI document is built, counted apart.
const factories = Object.keys(zodMini).filter(
  (k) => typeof (zodMini as Record<string, unknown>)[k] === "function" && /^[a-z]/.test(k) && k !== "toJSONSchema",
);
// Object schemas also record their field names, so a test can tell which entity was built.
const OBJECTS = ["object", "strictObject", "looseObject"];
const COUNTING_ZOD = `import * as real from ${JSON.stringify(REAL_ZOD)};
export * from ${JSON.stringify(REAL_ZOD)};
const counts = () => (globalThis.__zodCounts ??= { schemas: 0, documents: 0, objects: [] });
const count = (name) => { counts()[name]++; };
const fields = (shape) => { counts().objects.push(Object.keys(shape ?? {}).sort().join(",")); };
${factories
  .map((k) =>
    OBJECTS.includes(k)
      ? `const c_${k} = (...a) => (count("schemas"), fields(a[0]), real.${k}(...a));\nexport { c_${k} as ${k} };`
      : `const c_${k} = (...a) => (count("schemas"), real.${k}(...a));\nexport { c_${k} as ${k} };`,
  )
  .join("\n")}
export const toJSONSchema = (...a) => (count("documents"), real.toJSONSchema(...a));
`;

const DOOR = `import worker from "./index.js";
export { KeyCoordinator, UpstreamBudget } from "./index.js";
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__counts")
      return Response.json(globalThis.__zodCounts ?? { schemas: 0, documents: 0, objects: [] });
    return worker.fetch(request, env, ctx);
  },
};`;

let mf: Miniflare;
let url: URL;
beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, "counting-zod.mjs"), COUNTING_ZOD);
  const outdir = join(DIR, "worker");
  await buildWorker({ outdir, alias: { "zod/mini": join(DIR, "counting-zod.mjs") } });
  const entry = join(outdir, "index.js");
  mf = new Miniflare(
    convertV4MiniflareOptions({
      modulesRoot: outdir,
      modules: [{ type: "ESModule" as const, path: join(outdir, "door.mjs"), contents: DOOR }, ...bundleModules(entry)],
      compatibilityDate: COMPAT_DATE,
      compatibilityFlags: COMPAT_FLAGS,
      ...storage(),
      // Nothing here reaches BeatPass: the requests are refused or answered before any read.
      bindings: { BEATPASS_TOKEN: FLEET_TOKEN, BEATPASS_API_BASE: "https://fake-beatpass.test/api/v1" },
      host: "127.0.0.1",
      port: 0,
      cf: false,
      handleStructuredLogs: () => {},
    }),
  );
  url = await mf.ready;
}, 120_000);
afterAll(async () => {
  await mf?.dispose();
});

interface Counts {
  schemas: number;
  documents: number;
  /** Each object schema built, as its sorted field names. */
  objects: string[];
}
const counts = async () => (await (await fetch(new URL("/__counts", url))).json()) as Counts;

const get = async (path: string) => {
  const res = await fetch(new URL(path, url));
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
};

// Entities by a field only they have, as BeatPass names it (docs/beatpass-api/REFERENCE.md).
const built = (c: Counts, field: string) => c.objects.some((o) => o.split(",").includes(field));
const TRACK = "bpm";
const WAVE = "peaks";
const SEARCH = "playlists";

describe("cold start", () => {
  // One test: its steps share one runtime, in this order (a shuffled run keeps it).
  it("a new isolate builds no schema before its first request; each route builds its own when first asked for, and keeps them", async () => {
    // The counting copy is in the bundle (zod is loaded with the first route), so 0 here is
    // the Worker's own doing.
    expect(await counts()).toEqual({ schemas: 0, documents: 0, objects: [] });

    // What every request needs (the configuration): an unknown path.
    expectProblemResponse(await get("/nothing-here"), 404, "not_found", url.origin);
    const base = await counts();
    // /healthz reads no entity and validates nothing: it builds nothing more.
    expect((await get("/healthz")).status).toBe(200);
    expect(await counts()).toEqual(base);
    for (const field of [TRACK, WAVE, SEARCH]) expect(built(base, field)).toBe(false);

    // A track route's refusal builds the track route's schemas, not the waveform's or search's.
    expectProblemResponse(await get("/v1/tracks/abc"), 400, "invalid_request", url.origin);
    const track = await counts();
    expect(track.schemas).toBeGreaterThan(base.schemas);
    expect([built(track, TRACK), built(track, WAVE), built(track, SEARCH)]).toEqual([true, false, false]);
    // A data route does not build the OpenAPI document.
    expect(track.documents).toBe(0);

    // Built once and kept (zod's construction is the cost, not parsing).
    expectProblemResponse(await get("/v1/tracks/abc"), 400, "invalid_request", url.origin);
    expectProblemResponse(await get("/v1/tracks/0"), 400, "invalid_request", url.origin);
    expect(await counts()).toEqual(track);

    // Schemas read on every request (a card's id, here) are built by the first and kept too.
    // (A bad id is a problem+json, not an error card: there is nothing to draw a card for.)
    expectProblemResponse(await get("/widget/track/abc"), 400, "invalid_request", url.origin);
    const card = await counts();
    expectProblemResponse(await get("/widget/track/abc"), 400, "invalid_request", url.origin);
    expectProblemResponse(await get("/widget/album/0"), 400, "invalid_request", url.origin);
    expect(await counts()).toEqual(card);

    // Another route builds its own when first asked for.
    expectProblemResponse(await get("/v1/tracks/abc/wave"), 400, "invalid_request", url.origin);
    const wave = await counts();
    expect(wave.schemas).toBeGreaterThan(card.schemas);
    expect([built(wave, WAVE), built(wave, SEARCH)]).toEqual([true, false]);

    const doc = await fetch(new URL("/openapi.json", url));
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    const all = await counts();
    expect(all.documents).toBeGreaterThan(0);
    // The document describes every route, so it builds every schema, search's too.
    expect(built(all, SEARCH)).toBe(true);
  });
});
