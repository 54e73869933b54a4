import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { photoJpeg } from "../../fake/photo.mjs";
import { svgForPng } from "../../src/render/png";
import { trackSvg } from "../../src/render/svg-card";

/**
 * The rasteriser Worker itself (raster/, bound as RASTER), in workerd: covers are shrunk
 * there as in Node (test/e2e/raster-shrink.test.ts judges the pixels), with the runtime's
 * node:crypto, node:buffer and node:zlib. The rasteriser says what it did with a render's
 * covers in X-Raster-Covers; the main Worker does not pass it on.
 */

function photoCard(accent: string): string {
  let binary = "";
  for (const b of photoJpeg("/images/tracks/21-photo.jpg")) binary += String.fromCharCode(b);
  const track = { id: 21, name: "Midnight Run", artists: [{ id: 1, name: "Juno Drift" }], duration: 187_000 };
  return trackSvg(
    track as unknown as Parameters<typeof trackSvg>[0],
    undefined,
    `data:image/jpeg;base64,${btoa(binary)}`,
    { theme: "dark", size: "standard", accent, hide: new Set() },
    svgForPng("og", "standard"),
  );
}

async function rasterise(svg: string): Promise<{ res: Response; bytes: Uint8Array; body: string }> {
  const res = await env.RASTER!.fetch("https://raster.internal/png", { method: "POST", body: svg });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes, body: new TextDecoder().decode(bytes) };
}

describe("the rasteriser Worker's shrunk covers", () => {
  it("draws a photo cover's second render from the memo", async () => {
    // The first render shrinks the cover, unless an earlier test in this isolate already did.
    const first = await rasterise(photoCard("7c3aed"));
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("Content-Type")).toBe("image/png");
    expect([...first.bytes.subarray(0, 4)], "PNG signature").toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(first.res.headers.get("X-Raster-Covers")).toMatch(/^hits=(0 shrunk=1|1 shrunk=0) kept=0$/);
    const second = await rasterise(photoCard("0e7490"));
    expect(second.res.status).toBe(200);
    expect(second.res.headers.get("X-Raster-Covers")).toBe("hits=1 shrunk=0 kept=0");
  });

  it("refuses what it refused before: a GET, an SVG too large, a canvas too large", async () => {
    const get = await env.RASTER!.fetch("https://raster.internal/png");
    await get.arrayBuffer();
    expect(get.status).toBe(405);
    const large = await rasterise(`<svg xmlns="http://www.w3.org/2000/svg">${" ".repeat(1_000_000)}</svg>`);
    expect([large.res.status, large.body]).toEqual([413, "SVG too large"]);
    const wide = await rasterise(photoCard("7c3aed").replace('width="1200"', 'width="2401"'));
    expect([wide.res.status, wide.body]).toEqual([422, "canvas too large"]);
  });
});
