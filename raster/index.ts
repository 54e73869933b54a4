import { initWasm, Resvg } from "@resvg/resvg-wasm";
import resvgWasm from "@resvg/resvg-wasm/index_bg.wasm";
import { INTER_400, INTER_600 } from "../src/render/fonts/inter";
import { encodePng } from "./encode";

/**
 * The PNG rasteriser: a Worker of its own behind the main Worker's RASTER service binding
 * (why: src/render/png.ts). POST /png with an SVG card answers the PNG, drawn by resvg
 * (WebAssembly) with the cards' font, Inter. It has no route on the internet
 * (workers_dev = false, no routes): only the main Worker, which renders the SVG itself from
 * validated data, can reach it.
 */

/** Cards are a few KB of SVG plus artwork (at most ~300 KB as a data: URI). */
const MAX_SVG_BYTES = 1_000_000;
/** Larger than any card or link preview: a guard against a runaway canvas. */
const MAX_SIDE = 2400;

// initWasm may run once per isolate; concurrent first requests share the one promise, and a
// failure is retried by the next request.
let ready: Promise<unknown> | undefined;
let fonts: Uint8Array[] | undefined;

function init(): Promise<unknown> {
  ready ??= initWasm(resvgWasm).catch((err) => {
    ready = undefined;
    throw err;
  });
  fonts ??= [INTER_400, INTER_600].map((b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
  return ready;
}

function render(svg: string): Promise<Uint8Array> {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "original" },
    font: { fontBuffers: fonts, loadSystemFonts: false, defaultFontFamily: "Inter" },
  });
  try {
    if (resvg.width > MAX_SIDE || resvg.height > MAX_SIDE) throw new RangeError("canvas too large");
    const image = resvg.render();
    try {
      return encodePng(image.pixels, image.width, image.height);
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

const text = (status: number, body: string) =>
  new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });

export default {
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/png") return text(404, "not found");
    if (request.method !== "POST") return text(405, "POST an SVG");
    const svg = await request.text();
    if (svg.length > MAX_SVG_BYTES) return text(413, "SVG too large");
    await init();
    try {
      return new Response(await render(svg), { headers: { "Content-Type": "image/png" } });
    } catch (err) {
      return text(422, err instanceof Error ? err.message : "render failed");
    }
  },
} satisfies ExportedHandler;
