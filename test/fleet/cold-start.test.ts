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
const COUNTING_ZOD = `import * as real from ${JSON.stringify(REAL_ZOD)};
export * from ${JSON.stringify(REAL_ZOD)};
const count = (name) => { globalThis.__zodCounts ??= { schemas: 0, documents: 0 }; globalThis.__zodCounts[name]++; };
${factories.map((k) => `const c_${k} = (...a) => (count("schemas"), real.${k}(...a));\nexport { c_${k} as ${k} };`).join("\n")}
export const toJSONSchema = (...a) => (count("documents"), real.toJSONSchema(...a));
`;

const DOOR = `import worker from "./index.js";
export { KeyCoordinator, UpstreamBudget } from "./index.js";
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__counts")
      return Response.json(globalThis.__zodCounts ?? { schemas: 0, documents: 0 });
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

const counts = async () => (await (await fetch(new URL("/__counts", url))).json()) as Record<string, number>;

describe("cold start", () => {
  it("a new isolate has built no zod schema and no OpenAPI document before its first request, then builds them when a route needs them", async () => {
    // The counting copy is in the bundle (zod is loaded with the first route), so 0 here is
    // the Worker's own doing.
    expect(await counts()).toEqual({ schemas: 0, documents: 0 });

    const bad = await fetch(new URL("/v1/tracks/abc", url));
    const text = await bad.text();
    const problem = { status: bad.status, headers: bad.headers, text, json: () => JSON.parse(text) };
    expectProblemResponse(problem, 400, "invalid_request", url.origin);
    const afterRoute = await counts();
    expect(afterRoute.schemas).toBeGreaterThan(0);
    // A data route does not build the OpenAPI document.
    expect(afterRoute.documents).toBe(0);

    // Built once and kept (zod's construction is the cost, not parsing): the same route again,
    // and another route family's refusal, build nothing more.
    const again = await fetch(new URL("/v1/tracks/abc", url));
    await again.arrayBuffer();
    expect(again.status).toBe(400);
    const other = await fetch(new URL("/v1/albums/-1", url));
    await other.arrayBuffer();
    expect(other.status).toBe(400);
    expect(await counts()).toEqual(afterRoute);

    const doc = await fetch(new URL("/openapi.json", url));
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    expect((await counts()).documents).toBeGreaterThan(0);
  });
});
