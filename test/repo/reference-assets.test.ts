import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDocsAssets, REFERENCE_FILE, RENDERER_PACKAGE, rendererFiles } from "../../scripts/build-docs.mjs";
import { buildWorker } from "../../scripts/build-worker.mjs";
import { exampleRequest } from "../../scripts/docs-examples.mjs";
import { referenceDocument } from "../../scripts/docs-reference.mjs";
import { REFERENCE_PATH, RENDERER_PATH } from "../../src/render/docs-page";

/**
 * The reference page's static assets, built as wrangler's [build] builds them (into a folder
 * of this test's own, so a running `npm start` keeps its copy): the renderer is the pinned
 * package's file under the name /docs asks for, and the document it shows has an example
 * made by the Worker for every operation of /openapi.json (routes added later included).
 */

type Json = Record<string, any>;
const dir = mkdtempSync(join(tmpdir(), "beatpass-edge-docs-"));
let reference: { paths: Record<string, Record<string, Json>> };
let missing: string[];
let served: { paths: Record<string, Record<string, Json>> };

beforeAll(async () => {
  const workerDir = join(dir, "worker");
  await buildWorker({ outdir: workerDir });
  missing = await buildDocsAssets({ dir: join(dir, "assets"), workerDir });
  reference = JSON.parse(readFileSync(join(dir, "assets", REFERENCE_FILE), "utf8"));
  // What /openapi.json serves, as scripts/openapi.mjs writes it for the linters.
  const { writeOpenApi } = await import("../../scripts/openapi.mjs");
  served = JSON.parse(readFileSync(await writeOpenApi(join(dir, "openapi.json")), "utf8"));
}, 120_000); // a Worker bundle, and workerd started to make the examples: seconds on a busy machine

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the renderer", () => {
  it("is the pinned package's file, byte for byte, where /docs loads it from", () => {
    const { source, served: path } = rendererFiles();
    expect(`/${path}`).toBe(RENDERER_PATH);
    expect(readFileSync(join(dir, "assets", path)).equals(readFileSync(source))).toBe(true);
    const pinned = JSON.parse(readFileSync("package.json", "utf8")).devDependencies[RENDERER_PACKAGE];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(RENDERER_PATH).toContain(`-${pinned}/`);
  });

  it("is cached a year (its name changes with its version); the document five minutes", () => {
    const headers = readFileSync(join(dir, "assets", "_headers"), "utf8");
    expect(headers).toMatch(
      /^\/docs-assets\/scalar-api-reference-\*\n\s+Cache-Control: public, max-age=31536000, immutable$/m,
    );
    expect(headers).toContain(`${REFERENCE_PATH}\n  Cache-Control: public, max-age=300`);
    expect(`/${REFERENCE_FILE}`).toBe(REFERENCE_PATH);
  });
});

describe("the document the page shows", () => {
  it("has every operation of /openapi.json, HEAD and OPTIONS folded into their GET", () => {
    for (const [path, methods] of Object.entries(served.paths)) {
      const shown = reference.paths[path] ?? {};
      const expected = Object.keys(methods).filter((m) => m !== "head" && m !== "options");
      expect(Object.keys(shown).sort(), path).toEqual(expected.sort());
      if (methods.head) expect(shown.get?.description, path).toContain("`HEAD` answers the same");
      if (methods.options) expect(shown.get?.description, path).toContain("`OPTIONS` answers 204");
    }
    expect(Object.keys(reference.paths).sort()).toEqual(Object.keys(served.paths).sort());
  });

  it("has an example answer, made by the Worker, on every operation's success, and its request's parameters", () => {
    expect(missing).toEqual([]);
    for (const [path, methods] of Object.entries(reference.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`;
        const examples = Object.entries(op.responses as Record<string, Json>)
          .filter(([status]) => /^2/.test(status))
          .flatMap(([, r]) => Object.values((r.content ?? {}) as Record<string, Json>))
          .flatMap((media) => Object.values(media.examples ?? {}) as Json[]);
        expect(examples.length, name).toBe(1);
        expect(examples[0]?.value ?? examples[0]?.externalValue, name).toBeDefined();
        // (Linters cannot test a value against a \p{...} pattern: such a parameter has none.)
        for (const p of op.parameters ?? [])
          if (p.in === "path" && !p.schema?.pattern?.includes("\\p{"))
            expect(p.example, `${name} ${p.name}`).toBeDefined();
      }
    }
    // The fake's data through the projection: BeatPass's fields, none of the token account's own.
    const track = reference.paths["/v1/tracks/{id}"]?.get?.responses["200"].content["application/json"].examples.fake;
    expect(track.value.data).toMatchObject({ id: 1, name: "Midnight Run" });
    expect(track.value.data).not.toHaveProperty("is_liked");
    expect(JSON.stringify(reference)).not.toMatch(/docs-example-token|docs-example-purge-secret/);
  });

  it("links every problem code an operation documents to its page", () => {
    const problems = served as Json;
    const codes: string[] = problems.components.schemas.ProblemCode.enum;
    const op = reference.paths["/v1/tracks/{id}"]?.get as Json;
    for (const code of ["invalid_request", "not_found", "rate_limited", "upstream_timeout"]) {
      expect(codes).toContain(code);
      expect(op.description).toContain(`[\`${code}\`](/problems/${code})`);
    }
    expect(op.responses["404"].description).toContain("`not_found`");
  });

  it("passes the linters /openapi.json passes (examples checked against their schemas)", () => {
    const file = join(dir, "assets", REFERENCE_FILE);
    const quiet = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
    const bin = "node_modules/.bin";
    const redocly = spawnSync(`${bin}/redocly`, ["lint", "--format=summary", file], { encoding: "utf8", env: quiet });
    expect(redocly.status, redocly.stdout + redocly.stderr).toBe(0);
    const spectral = spawnSync(`${bin}/spectral`, ["lint", "--fail-severity=warn", file], { encoding: "utf8" });
    expect(spectral.status, spectral.stdout + spectral.stderr).toBe(0);
  }, 60_000); // two linters, each a Node process: seconds on a busy machine

  it("names an operation it cannot make an example for (a parameter without a value, an answer not 2xx)", () => {
    const op = { parameters: [{ name: "slug", in: "path", required: true }], responses: { "200": {} } };
    expect(() => exampleRequest("/v1/things/{slug}", "get", op)).toThrow(/no example value for parameter "slug"/);
    const doc = { info: {}, paths: { "/v1/things": { get: { responses: { "200": {} } } }, "/v1/other": { get: op } } };
    const failed = {
      request: { path: "/v1/other" },
      status: 404,
      type: "application/problem+json",
      bytes: new Uint8Array(),
    };
    expect(referenceDocument(doc, {}, { "GET /v1/other": failed }).missing).toEqual([
      "GET /v1/things: no example was made",
      "GET /v1/other: the example request /v1/other answered 404: ",
    ]);
  });
});
