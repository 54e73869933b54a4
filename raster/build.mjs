import { buildSync } from "esbuild";

/**
 * The rasteriser's compatibility flags, as in raster/wrangler.toml: nodejs_compat for
 * node:zlib (raster/encode.ts), and no secrets copied into process.env (it has none; as the
 * main Worker).
 */
export const RASTER_COMPAT_FLAGS = ["nodejs_compat", "nodejs_compat_do_not_populate_process_env"];

/**
 * Bundles the rasteriser for miniflare (tests, the benchmark), the way wrangler does for
 * deploy: one ES module plus resvg's .wasm beside it as a compiled module, node: imports left
 * to the runtime. Returns the module list and the compatibility flags miniflare takes.
 */
export function buildRaster(outdir) {
  buildSync({
    entryPoints: ["raster/index.ts"],
    outdir,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    external: ["node:*"],
    loader: { ".wasm": "copy" },
    assetNames: "[name]",
    logLevel: "warning",
  });
  return {
    compatibilityFlags: RASTER_COMPAT_FLAGS,
    modulesRoot: outdir,
    modules: [
      { type: "ESModule", path: `${outdir}/index.js` },
      { type: "CompiledWasm", path: `${outdir}/index_bg.wasm` },
    ],
  };
}
