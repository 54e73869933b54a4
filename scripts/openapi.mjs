import { mkdirSync, rmSync, writeFileSync } from "node:fs";
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

export async function writeOpenApi(out = OPENAPI_FILE) {
  mkdirSync(".build", { recursive: true });
  const bundle = ".build/openapi-bundle.mjs";
  await build({
    entryPoints: ["src/openapi.ts"],
    outfile: bundle,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    mainFields: ["module", "main"],
    plugins: [workersRuntime],
    logLevel: "warning",
  });
  const { buildOpenApi } = await import(pathToFileURL(bundle).href);
  rmSync(bundle);
  writeFileSync(out, `${JSON.stringify(buildOpenApi(PLACEHOLDER_ORIGIN), null, 2)}\n`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(await writeOpenApi(process.argv[2]));
