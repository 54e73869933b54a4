export const RASTER_COMPAT_FLAGS: string[];
export function buildRaster(outdir: string): {
  compatibilityFlags: string[];
  modulesRoot: string;
  modules: { type: "ESModule" | "CompiledWasm"; path: string }[];
};
