import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { workersRuntime } from "../sim/bundle.mjs";

/**
 * `node scripts/openapi.mjs [out]`: writes the OpenAPI document the Worker serves at
 * /openapi.json (built by src/openapi.ts from the route schemas) to a file, for the linters
 * in `npm run lint` (Redocly, Spectral) and for client generators. The origin is a placeholder.
 */
export const OPENAPI_FILE = ".build/openapi.json";
export const PLACEHOLDER_ORIGIN = "https://beatpass-edge.example";

/**
 * Imports what `source` (module text, resolved from the repository root) exports from src/,
 * bundled for Node with `cloudflare:workers` stubbed, as the build scripts need it.
 */
export async function importFromSrc(source) {
  mkdirSync(".build", { recursive: true });
  // A name of its own per process: two builds may run at once (npm test starts npm start).
  const bundle = `.build/src-bundle-${process.pid}-${Date.now()}.mjs`;
  await build({
    stdin: { contents: source, resolveDir: ".", loader: "ts" },
    outfile: bundle,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    mainFields: ["module", "main"],
    plugins: [workersRuntime],
    logLevel: "warning",
  });
  try {
    return await import(pathToFileURL(bundle).href);
  } finally {
    rmSync(bundle);
  }
}

export async function writeOpenApi(out = OPENAPI_FILE) {
  const { buildOpenApi } = await importFromSrc('export { buildOpenApi } from "./src/openapi.ts";');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(buildOpenApi(PLACEHOLDER_ORIGIN), null, 2)}\n`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(await writeOpenApi(process.argv[2]));
