import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initWasm } from "@resvg/resvg-wasm";
import { photoJpeg } from "../../fake/photo.mjs";
import { INTER_400, INTER_600 } from "../../src/render/fonts/inter";
import type { trackSvg } from "../../src/render/svg-card";

/** What the raster tests (Node, the rasteriser's own resvg WebAssembly) share. */

/** The cards' font, as the rasteriser gives it to resvg. */
export const fonts = [INTER_400, INTER_600].map((b64) => Buffer.from(b64, "base64"));

/** Loads resvg's WebAssembly (once per test file, in beforeAll). */
export async function initResvg(): Promise<void> {
  await initWasm(readFileSync(createRequire(import.meta.url).resolve("@resvg/resvg-wasm/index_bg.wasm")));
}

/** A track with the fields a card shows, as BeatPass sends them. */
export function sampleTrack(fields: { id: number; name: string }): Parameters<typeof trackSvg>[0] {
  return {
    artists: [{ id: 1, name: "Juno Drift" }],
    bpm: 92,
    key: "A",
    scale: "minor",
    duration: 187_000,
    price: 29.99,
    currency: "USD",
    ...fields,
  } as unknown as Parameters<typeof trackSvg>[0];
}

/** A data: URI of `bytes`. */
export const dataUri = (type: string, bytes: Uint8Array) =>
  `data:${type};base64,${Buffer.from(bytes).toString("base64")}`;

/** The fake BeatPass's photographic cover for `seed` (a 600 x 600 JPEG) as a data: URI. */
export const photoUri = (seed = "/images/tracks/21-photo.jpg") => dataUri("image/jpeg", photoJpeg(seed));
