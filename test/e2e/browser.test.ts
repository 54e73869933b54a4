import { existsSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { XSS_NAME } from "../../fake/catalog.mjs";

/**
 * Real headless Chromium (Debian's package, driven by playwright-core; nothing downloaded)
 * loads a third-party page embedding the iframe card and the SVG card of a track whose name
 * is an XSS payload, and writes the README's screenshots to docs/screenshots/.
 *
 * Chromium is required in CI (.ci/run installs it); elsewhere, without it, this file is
 * skipped with a message so `npm test` still passes on a machine without a browser.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!HAVE_CHROMIUM)
  console.warn(`Skipping browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);

const SHOTS = "docs/screenshots";
const EMBEDDER_PORT = 18899;

// Flags from the machine notes: headless, no sandbox as root, and no background networking
// (the machine's closed network refuses those connections noisily).
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const stack = inject("stack");
let embedder: Server;

function embedderPage(base: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>A blog embedding BeatPass</title>
<style>body{margin:16px;font-family:sans-serif;background:#fff}.dark{background:#0b1120;padding:12px}</style></head><body>
<h1>My blog</h1>
<iframe id="light" src="${base}/widget/track/61?theme=light" width="480" height="176" style="border:0"></iframe>
<div class="dark"><iframe id="dark" src="${base}/widget/track/61?theme=dark" width="480" height="176" style="border:0"></iframe></div>
<img id="svg" src="${base}/widget/track/61.svg" alt="track card">
</body></html>`;
}

describe.skipIf(!HAVE_CHROMIUM)("widgets in real Chromium", () => {
  beforeAll(async () => {
    embedder = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(embedderPage(stack.base));
    });
    await new Promise<void>((r) => embedder.listen(EMBEDDER_PORT, "127.0.0.1", r));
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await new Promise((r) => embedder?.close(r));
  });

  it("shows an XSS-named track as text: no dialog, no console error, no CSP violation", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 560, height: 720 } });
      const dialogs: string[] = [];
      const problems: string[] = [];
      page.on("dialog", async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      // Runs in every frame, the cross-origin card iframes included.
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });
      });

      await page.goto(`http://127.0.0.1:${EMBEDDER_PORT}/`, { waitUntil: "networkidle" });

      for (const id of ["light", "dark"]) {
        const frame = page.frameLocator(`#${id}`);
        await expect.poll(() => frame.locator("h1").textContent()).toBe(XSS_NAME);
        expect(await frame.locator("script").count()).toBe(0);
        expect(await frame.locator("img[onerror], [onload], [onmouseover]").count()).toBe(0);
      }
      const svg = page.locator("#svg");
      const size = await svg.evaluate((img: HTMLImageElement) => ({
        ok: img.complete,
        w: img.naturalWidth,
        h: img.naturalHeight,
      }));
      expect(size).toEqual({ ok: true, w: 480, h: 136 });

      // Give any injected handler a moment to fire before concluding none did.
      await page.waitForTimeout(300);
      expect(dialogs).toEqual([]);
      expect(problems).toEqual([]);

      await page.locator("#light").screenshot({ path: `${SHOTS}/hostile-track-light.png` });
      await page.locator("#dark").screenshot({ path: `${SHOTS}/hostile-track-dark.png` });
    } finally {
      await browser.close();
    }
  });

  it("writes the README's card screenshots, light and dark", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 480, height: 400 }, deviceScaleFactor: 1 });
      const shots: [string, string, number][] = [
        ["/widget/track/1?theme=light", "track-light.png", 176],
        ["/widget/track/1?theme=dark", "track-dark.png", 176],
        ["/widget/artist/3?theme=light", "artist-light.png", 216],
        ["/widget/artist/3?theme=dark", "artist-dark.png", 216],
        ["/widget/track/1.svg?theme=light", "track-svg-light.png", 136],
      ];
      for (const [path, file, height] of shots) {
        await page.setViewportSize({ width: 480, height });
        await page.goto(`${stack.base}${path}`, { waitUntil: "networkidle" });
        if (path.includes("theme=dark")) await page.evaluate(() => (document.body.style.background = "#0b1120"));
        await page.screenshot({ path: `${SHOTS}/${file}` });
        expect(existsSync(`${SHOTS}/${file}`)).toBe(true);
      }
    } finally {
      await browser.close();
    }
  });
});
