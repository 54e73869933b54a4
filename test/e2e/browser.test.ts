import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { XSS_NAME } from "../../fake/catalog.mjs";

/**
 * Real headless Chromium (Debian's package, driven by playwright-core; nothing downloaded)
 * loads a third-party page embedding the iframe card and the SVG card of a track whose name
 * is an XSS payload, and takes screenshots of the cards. They go to test-results/screenshots/
 * (git-ignored); with UPDATE_SCREENSHOTS=1 to docs/screenshots/, the README's pictures.
 *
 * Chromium is required in CI (.ci/run installs it); elsewhere, without it, this file is
 * skipped with a message so `npm test` still passes on a machine without a browser.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!HAVE_CHROMIUM)
  console.warn(`Skipping browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);

const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? "docs/screenshots" : "test-results/screenshots";
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

/** A decoded PNG (8-bit, non-interlaced, as Chromium writes them): size and what it shows. */
interface Shot {
  width: number;
  height: number;
  /** Distinct RGB colours: a blank or failed render has one or two. */
  colours: number;
  /** Mean luminance, 0 (black) to 255 (white). */
  luminance: number;
}

function decodePng(file: Buffer): Shot {
  expect(file.subarray(0, 8).toString("hex"), "PNG signature").toBe("89504e470d0a1a0a");
  let [width, height, depth, colourType, interlace] = [0, 0, 0, 0, 0];
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 8 <= file.length; ) {
    const length = file.readUInt32BE(pos);
    const type = file.toString("latin1", pos + 4, pos + 8);
    const data = file.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      [depth, colourType, interlace] = [data[8]!, data[9]!, data[12]!];
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    pos += 12 + length;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  expect([depth, interlace, channels !== undefined]).toEqual([8, 0, true]);
  const n = channels!;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * n;
  expect(raw.length).toBe(height * (stride + 1));
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= n ? px[y * stride + x - n]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= n && y > 0 ? px[(y - 1) * stride + x - n]! : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter!];
      expect(predictor, `PNG filter ${filter}`).toBeDefined();
      px[y * stride + x] = (v + predictor!) & 0xff;
    }
  }
  const colours = new Set<number>();
  let sum = 0;
  for (let i = 0; i < px.length; i += n) {
    const [r, g, b] = n >= 3 ? [px[i]!, px[i + 1]!, px[i + 2]!] : [px[i]!, px[i]!, px[i]!];
    colours.add((r << 16) | (g << 8) | b);
    sum += 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  return { width, height, colours: colours.size, luminance: sum / (width * height) };
}

/** A screenshot of a card: the size asked for, and actually drawn (text, artwork: many colours). */
function expectCardShot(file: Buffer, width: number, height: number): Shot {
  const shot = decodePng(file);
  expect([shot.width, shot.height]).toEqual([width, height]);
  expect(shot.colours).toBeGreaterThan(32);
  return shot;
}

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

      // An element screenshot covers the whole pixels the 480 x 176 iframe touches.
      const frameShot = async (id: string) => {
        const frame = page.locator(`#${id}`);
        const box = (await frame.boundingBox())!;
        expect([box.width, box.height]).toEqual([480, 176]);
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
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 480, height: 400 }, deviceScaleFactor: 1 });
      const shots: [string, string, number, string][] = [
        ["/widget/track/1?theme=light", "track-light.png", 176, "Midnight Run"],
        ["/widget/track/1?theme=dark", "track-dark.png", 176, "Midnight Run"],
        ["/widget/artist/3?theme=light", "artist-light.png", 216, "Lumen Loops"],
        ["/widget/artist/3?theme=dark", "artist-dark.png", 216, "Lumen Loops"],
        ["/widget/track/1.svg?theme=light", "track-svg-light.png", 136, ""],
      ];
      const drawn = new Map<string, Shot>();
      for (const [path, file, height, title] of shots) {
        await page.setViewportSize({ width: 480, height });
        await page.goto(`${stack.base}${path}`, { waitUntil: "networkidle" });
        if (title) expect(await page.locator("h1").textContent()).toContain(title);
        if (path.includes("theme=dark")) await page.evaluate(() => (document.body.style.background = "#0b1120"));
        const png = await page.screenshot({ path: `${SHOTS}/${file}` });
        expect(readFileSync(`${SHOTS}/${file}`).equals(png)).toBe(true);
        drawn.set(file, expectCardShot(png, 480, height));
      }
      // The dark theme is dark: each dark card is darker than its light twin.
      for (const kind of ["track", "artist"]) {
        expect(drawn.get(`${kind}-dark.png`)!.luminance).toBeLessThan(drawn.get(`${kind}-light.png`)!.luminance - 50);
      }
    } finally {
      await browser.close();
    }
  });
});
