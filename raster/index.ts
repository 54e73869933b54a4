import { initWasm } from "@resvg/resvg-wasm";
import resvgWasm from "@resvg/resvg-wasm/index_bg.wasm";
import { renderPng } from "./render";

/**
 * The PNG rasteriser: a Worker of its own behind the main Worker's RASTER service binding
 * (why: src/render/png.ts). POST /png with an SVG card answers the PNG, drawn by resvg
 * (WebAssembly) with the cards' font, Inter (render.ts). It has no route on the internet
 * (workers_dev = false, no routes): only the main Worker, which renders the SVG itself from
 * validated data, can reach it.
 */

/** Cards are a few KB of SVG plus artwork (at most ~300 KB as a data: URI). */
const MAX_SVG_BYTES = 1_000_000;

// initWasm may run once per isolate; concurrent first requests share the one promise, and a
// failure is retried by the next request.
let ready: Promise<unknown> | undefined;

function init(): Promise<unknown> {
  ready ??= initWasm(resvgWasm).catch((err) => {
    ready = undefined;
    throw err;
  });
  return ready;
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
      const { png, covers } = await renderPng(svg);
      // What the cover memo did for this render (shrink.ts), for the tests and the benchmark:
      // the main Worker does not read it.
      const how = `hits=${covers.hits} shrunk=${covers.shrunk} kept=${covers.kept}`;
      return new Response(png, { headers: { "Content-Type": "image/png", "X-Raster-Covers": how } });
    } catch (err) {
      return text(422, err instanceof Error ? err.message : "render failed");
    }
  },
} satisfies ExportedHandler;
