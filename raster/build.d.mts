export function buildRaster(outdir: string): {
  modulesRoot: string;
  modules: { type: "ESModule" | "CompiledWasm"; path: string }[];
};
