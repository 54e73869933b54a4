import { ApiError } from "../errors";
import type { CardSize } from "./layout";
import { SVG_SIZES, type SvgRender } from "./svg-card";

/**
 * PNG cards are the SVG cards rasterised by a second Worker (raster/, resvg compiled to
 * WebAssembly) behind the RASTER service binding. It is a Worker of its own because the
 * renderer is 2.4 MB of WebAssembly: in this Worker it would make every cold start of every
 * JSON and card request compile it, and multiply the bundle eight times over, for the few
 * requests that want a PNG (which are cached once drawn).
 */

/** A link preview's image (Open Graph's recommended 1.91:1). */
export const OG_IMAGE = { width: 1200, height: 630 } as const;

export type PngLayout = "og" | "card";

/**
 * The widths a link preview is drawn at. `width=` may ask for any of 200 to 1200 px and gets
 * the nearest of these (the smaller on a tie): every width is a new image to draw and keep,
 * so a few sizes keep the memo's keys few and a caller cannot buy a render per pixel.
 */
export const PNG_WIDTHS = [200, 300, 400, 600, 800, 1200] as const;

/** The drawn width for a requested one (undefined: the full 1200, as when none is asked). */
export function snapPngWidth(requested: number | undefined): number | undefined {
  if (requested === undefined) return undefined;
  let best: number = PNG_WIDTHS[0];
  for (const w of PNG_WIDTHS) if (Math.abs(w - requested) < Math.abs(best - requested)) best = w;
  return best === OG_IMAGE.width ? undefined : best;
}

/** The largest drawn width that is at most `max` (oEmbed's thumbnails must fit), or undefined. */
export function pngWidthWithin(max: number): number | undefined {
  let fit: number | undefined;
  for (const w of PNG_WIDTHS) if (w <= max) fit = w;
  return fit;
}

/** The pixel size of a PNG card; `width` scales a link preview (same 1.91:1). */
export function pngSize(layout: PngLayout, size: CardSize, width?: number): { width: number; height: number } {
  if (layout === "og") {
    const w = width ?? OG_IMAGE.width;
    return { width: w, height: Math.round((w * OG_IMAGE.height) / OG_IMAGE.width) };
  }
  const { w, h } = SVG_SIZES[size];
  return { width: w, height: h };
}

/** How the SVG is drawn for a PNG: no embedded font (the rasteriser has it), maybe on a canvas. */
export function svgForPng(layout: PngLayout, size: CardSize, width?: number): SvgRender {
  return layout === "og" ? { fonts: false, canvas: pngSize(layout, size, width) } : { fonts: false };
}

/** The SVG as PNG bytes, from the rasteriser. */
export async function rasterise(raster: Fetcher | undefined, svg: string): Promise<Uint8Array> {
  if (!raster) throw new ApiError("raster_unavailable", "This deployment has no PNG rasteriser (RASTER binding).");
  let res: Response;
  try {
    res = await raster.fetch("https://raster.internal/png", {
      method: "POST",
      headers: { "Content-Type": "image/svg+xml" },
      body: svg,
    });
  } catch (err) {
    throw new ApiError("raster_unavailable", "The PNG rasteriser could not be reached.", { cause: err });
  }
  if (!res.ok || res.headers.get("Content-Type") !== "image/png") {
    await res.body?.cancel();
    throw new ApiError("raster_unavailable", "The PNG rasteriser failed.", {
      cause: new Error(`raster answered ${res.status}`),
    });
  }
  return new Uint8Array(await res.arrayBuffer());
}
