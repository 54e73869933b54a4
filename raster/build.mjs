import { buildSync } from "esbuild";

/**
 * Bundles the rasteriser for miniflare (tests, the benchmark), the way wrangler does for
 * deploy: one ES module plus resvg's .wasm beside it as a compiled module. Returns the
 * module list miniflare takes.
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
    loader: { ".wasm": "copy" },
    assetNames: "[name]",
    logLevel: "warning",
  });
  return {
    modulesRoot: outdir,
    modules: [
      { type: "ESModule", path: `${outdir}/index.js` },
      { type: "CompiledWasm", path: `${outdir}/index_bg.wasm` },
    ],
  };
}
