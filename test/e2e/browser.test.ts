import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { XSS_NAME } from "../../fake/catalog.mjs";
import { HAVE_CHROMIUM, launch, SHOTS } from "./chromium";
import { decodePng, type Shot } from "./png";

/**
 * A third-party page embeds the iframe card and the SVG card of a track whose name is an XSS
 * payload, in real Chromium; and the README's pictures are drawn. Screenshots go to
 * test-results/screenshots/ (git-ignored); with UPDATE_SCREENSHOTS=1 to docs/screenshots/.
 */

/** A screenshot of a card: the size asked for, and actually drawn (text, artwork: many colours). */
function expectCardShot(file: Buffer, width: number, height: number): Shot {
  const shot = decodePng(file);
  expect([shot.width, shot.height]).toEqual([width, height]);
  expect(shot.colours).toBeGreaterThan(32);
  return shot;
}

const stack = inject("stack");
const EMBEDDER_PORT = 18899;
let embedder: Server;
let page = "";

/** The height oEmbed advertises for a card (what an embedder is told to give its frame). */
async function advertisedHeight(kind: string, id: number, extra = ""): Promise<number> {
  const res = await fetch(`${stack.base}/oembed?url=https://beatpass.ca/${kind}/${id}${extra}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { height: number }).height;
}

describe.skipIf(!HAVE_CHROMIUM)("widgets in real Chromium", () => {
  beforeAll(async () => {
    const height = await advertisedHeight("track", 61);
    page = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>A blog embedding BeatPass</title>
<style>body{margin:16px;font-family:sans-serif;background:#fff}.dark{background:#0b1120;padding:12px}</style></head><body>
<h1>My blog</h1>
<iframe id="light" src="${stack.base}/widget/track/61?theme=light" width="480" height="${height}" style="border:0"></iframe>
<div class="dark"><iframe id="dark" src="${stack.base}/widget/track/61?theme=dark" width="480" height="${height}" style="border:0"></iframe></div>
<img id="svg" src="${stack.base}/widget/track/61.svg" alt="track card">
</body></html>`;
    embedder = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(page);
    });
    await new Promise<void>((r) => embedder.listen(EMBEDDER_PORT, "127.0.0.1", r));
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await new Promise((r) => embedder?.close(r));
  });

  it("shows an XSS-named track as text: no dialog, no console error, no CSP violation", async () => {
    const browser = await launch();
    try {
      const tab = await browser.newPage({ viewport: { width: 560, height: 720 } });
      const dialogs: string[] = [];
      const problems: string[] = [];
      tab.on("dialog", async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      tab.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      tab.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      // Runs in every frame, the cross-origin card iframes included.
      await tab.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });
      });

      await tab.goto(`http://127.0.0.1:${EMBEDDER_PORT}/`, { waitUntil: "networkidle" });

      for (const id of ["light", "dark"]) {
        const frame = tab.frameLocator(`#${id}`);
        await expect.poll(() => frame.locator("h1").textContent(), { timeout: 10_000 }).toBe(XSS_NAME);
        // The card's one script is its own height reporter, with none of the data in it.
        expect(await frame.locator("script").count()).toBe(1);
        expect(await frame.locator("script").textContent()).not.toContain("alert");
        expect(await frame.locator("img[onerror], [onload], [onmouseover]").count()).toBe(0);
      }
      const svg = tab.locator("#svg");
      const size = await svg.evaluate((img: HTMLImageElement) => ({
        ok: img.complete,
        w: img.naturalWidth,
        h: img.naturalHeight,
      }));
      expect(size).toEqual({ ok: true, w: 480, h: 136 });

      // Give any injected handler a moment to fire before concluding none did.
      await tab.waitForTimeout(300);
      expect(dialogs).toEqual([]);
      expect(problems).toEqual([]);

      // An element screenshot covers the whole pixels the iframe touches.
      const frameShot = async (id: string) => {
        const frame = tab.locator(`#${id}`);
        const box = (await frame.boundingBox())!;
        expect(box.width).toBe(480);
        const png = await frame.screenshot({ path: `${SHOTS}/hostile-track-${id}.png` });
        const rows = Math.ceil(box.y + box.height) - Math.floor(box.y);
        const cols = Math.ceil(box.x + box.width) - Math.floor(box.x);
        return expectCardShot(png, cols, rows);
      };
      const light = await frameShot("light");
      const dark = await frameShot("dark");
      expect(dark.luminance).toBeLessThan(light.luminance);
    } finally {
      await browser.close();
    }
  });

  it("draws the README's cards, light and dark", async () => {
    const browser = await launch();
    try {
      const tab = await browser.newPage({ viewport: { width: 480, height: 400 }, deviceScaleFactor: 1 });
      const shots: [string, string, string, string][] = [
        ["track", "1?theme=light", "track-light.png", "Midnight Run"],
        ["track", "1?theme=dark", "track-dark.png", "Midnight Run"],
        ["artist", "3?theme=light", "artist-light.png", "Lumen Loops"],
        ["artist", "3?theme=dark", "artist-dark.png", "Lumen Loops"],
        ["playlist", "6?theme=light", "playlist-light.png", "Fresh Finds"],
        ["track", "1?theme=light&size=compact", "track-compact-light.png", "Midnight Run"],
      ];
      const drawn = new Map<string, Shot>();
      for (const [kind, rest, file, title] of shots) {
        const [id, query] = rest.split("?") as [string, string];
        const height = await advertisedHeight(kind, Number(id), `&${query}`);
        await tab.setViewportSize({ width: 480, height });
        await tab.goto(`${stack.base}/widget/${kind}/${rest}`, { waitUntil: "networkidle" });
        expect(await tab.locator("h1").textContent()).toContain(title);
        if (rest.includes("theme=dark")) await tab.evaluate(() => (document.body.style.background = "#0b1120"));
        const png = await tab.screenshot({ path: `${SHOTS}/${file}` });
        expect(readFileSync(`${SHOTS}/${file}`).equals(png)).toBe(true);
        drawn.set(file, expectCardShot(png, 480, height));
      }
      await tab.setViewportSize({ width: 480, height: 136 });
      await tab.goto(`${stack.base}/widget/track/1.svg?theme=light`, { waitUntil: "networkidle" });
      expectCardShot(await tab.screenshot({ path: `${SHOTS}/track-svg-light.png` }), 480, 136);
      // The dark theme is dark: each dark card is darker than its light twin.
      for (const kind of ["track", "artist"]) {
        expect(drawn.get(`${kind}-dark.png`)!.luminance).toBeLessThan(drawn.get(`${kind}-light.png`)!.luminance - 50);
      }
    } finally {
      await browser.close();
    }
  });
});
