import { rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

/**
 * Bundles src/ into .build/worker/ as ES modules split at every dynamic import(), for wrangler
 * to upload as they are (wrangler.toml: no_bundle, find_additional_modules). wrangler's own
 * bundler writes one file, and a new isolate parses all of it before its first request: about
 * 10 KB a millisecond, so the card renderer, the OpenAPI document and zod cost every cold start
 * on every route. Split, an isolate parses the entry and its static imports at load and each
 * route's code the first time that route runs (bench/RESULTS.md, "Cold start").
 *
 * Options mirror what `wrangler deploy` gave the single bundle (minified, no keep-names helper:
 * measured in bench/HISTORY.md), so nothing else about the code changes.
 */
export const OUT_DIR = ".build/worker";

/**
 * @param {{ outdir?: string, minify?: boolean, metafile?: boolean, alias?: Record<string, string> }} [options]
 *   `alias`: module replacements (test/fleet/cold-start.test.ts counts zod's schemas with one).
 */
export async function buildWorker({ outdir = OUT_DIR, minify = true, metafile = false, alias } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { index: "src/index.ts" },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2024",
    platform: "neutral",
    // What wrangler resolves for the workerd runtime.
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    minify,
    keepNames: false,
    sourcemap: "linked",
    metafile,
    alias,
    logLevel: "warning",
    chunkNames: "chunks/[name]-[hash]",
  });
  return result.metafile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const metafile = await buildWorker({ metafile: process.argv.includes("--metafile") });
  if (metafile) writeFileSync(`${OUT_DIR}/meta.json`, JSON.stringify(metafile));
}
