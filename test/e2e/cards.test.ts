import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import metascraper from "metascraper";
import metascraperDescription from "metascraper-description";
import metascraperImage from "metascraper-image";
import metascraperTitle from "metascraper-title";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HAVE_CHROMIUM, launch, SHOTS } from "./chromium";
import { decodePng } from "./png";

/**
 * Cards as embedders and link-preview consumers meet them, judged by tools nobody here wrote:
 * Chromium lays out every card in the frame oEmbed advertises, at every width; axe-core
 * checks each card's accessibility (contrast included); Chromium measures the SVG cards'
 * text; metascraper unfurls a card page like a chat app would.
 */

const stack = inject("stack");
const EMBEDDER_PORT = 18898;
const WIDTHS = [200, 280, 320, 360, 480, 640];
const SIZES = ["standard", "compact"] as const;
/** One of each kind, with the fake's longest list (playlist 6: 23 tracks) and a long name. */
const CARDS: [string, number][] = [
  ["track", 1],
  ["artist", 3],
  ["album", 1],
  ["playlist", 6],
  ["track", 41],
  ["artist", 13],
];
const LONG_NAME =
  "WWWWWWWW Midnight Drive (Extended Club Mix) featuring Somebody With A Very Long Name And Another One";

/** Text the embedded font (Latin subset of Inter) draws itself. */
const LATIN = /^[\u0020-\u017f\u2010-\u2026\u20ac\u00a0]*$/;

interface OEmbed {
  html: string;
  width: number;
  height: number;
  thumbnail_url: string;
  thumbnail_width: number;
  thumbnail_height: number;
}

/**
 * Requests from this file's Node side each come from their own address (wrangler dev takes
 * CF-Connecting-IP as given), so the hundreds made here stay inside every per-IP limit, and
 * those of the other e2e files keep theirs.
 */
let nextAddress = 0;
function fromOwnAddress(): RequestInit {
  nextAddress++;
  return { headers: { "CF-Connecting-IP": `10.77.${nextAddress >> 8}.${nextAddress & 255}` } };
}

async function oembed(kind: string, id: number, extra = ""): Promise<OEmbed> {
  const res = await fetch(`${stack.base}/oembed?url=https://beatpass.ca/${kind}/${id}${extra}`, fromOwnAddress());
  expect(res.status, `oEmbed ${kind} ${id} ${extra}`).toBe(200);
  return (await res.json()) as OEmbed;
}

/** Pages the embedder serves, by path: a third-party site on its own origin. */
const pages = new Map<string, string>();
let embedder: Server;
let browser: Browser;

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

async function injectFault(fault: object) {
  const res = await fetch(`${stack.fake}/__fake/faults`, { method: "POST", body: JSON.stringify(fault) });
  expect(res.status).toBe(200);
}

describe.skipIf(!HAVE_CHROMIUM)("cards in real Chromium", () => {
  beforeAll(async () => {
    embedder = createServer((req, res) => {
      const body = pages.get(req.url ?? "");
      res.writeHead(body ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
      res.end(body ?? "");
    });
    await new Promise<void>((r) => embedder.listen(EMBEDDER_PORT, "127.0.0.1", r));
    mkdirSync(SHOTS, { recursive: true });
    // A track with a name far too long for any card, for the whole file (ids no other test uses).
    await injectFault({
      kind: "body",
      path: "/tracks/41",
      body: {
        status: "success",
        track: {
          id: 41,
          name: LONG_NAME,
          bpm: 128,
          key: "C#",
          scale: "minor",
          price: 1234.99,
          currency: "USD",
          duration_text: "12:34",
          licensing_type: "both",
          artists: [{ id: 1, name: "An Artist Whose Name Also Goes On And On Without End" }],
        },
      },
    });
    // Chromium's own requests share one address: the data, waveforms and artwork its cards
    // need are read (and cached) from here first, so its card loads are all hits.
    const cards = [...CARDS.map(([k, i]) => `${k}/${i}`), "track/61", "track/999"];
    for (const card of cards)
      for (const size of SIZES)
        for (const format of ["", ".svg"])
          await fetch(`${stack.base}/widget/${card}${format}?size=${size}`, fromOwnAddress());
    browser = await launch();
  });
  afterAll(async () => {
    await fetch(`${stack.fake}/__fake/faults`, { method: "DELETE" });
    await browser?.close();
    await new Promise((r) => embedder?.close(r));
  });

  it.each(CARDS.flatMap(([kind, id]) => SIZES.map((size) => [kind, id, size] as const)))(
    "%s %i (%s) fits the frame oEmbed gives it at every width, with at most 8 px to spare",
    async (kind, id, size) => {
      const answers = await Promise.all(WIDTHS.map((w) => oembed(kind, id, `&maxwidth=${w}&size=${size}`)));
      const path = `/fit/${kind}-${id}-${size}`;
      pages.set(
        path,
        `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body style="margin:8px">${answers
          .map((a, i) => `<div id="w${WIDTHS[i]}">${a.html}</div>`)
          .join("")}</body></html>`,
      );
      const tab = await browser.newPage({ viewport: { width: 700, height: 900 } });
      try {
        await tab.goto(`http://127.0.0.1:${EMBEDDER_PORT}${path}`, { waitUntil: "networkidle" });
        for (const [i, w] of WIDTHS.entries()) {
          const answer = answers[i]!;
          expect(answer.width, `width for maxwidth ${w}`).toBe(Math.min(w, 480));
          const frame = await (await tab.$(`#w${w} iframe`))!.contentFrame();
          const m = await frame!.evaluate(() => {
            const card = document.body.firstElementChild as HTMLElement;
            const html = document.documentElement;
            return {
              bottom: card.getBoundingClientRect().bottom,
              scrollHeight: html.scrollHeight,
              scrollWidth: html.scrollWidth,
              clientWidth: html.clientWidth,
              viewport: window.innerWidth,
            };
          });
          const where = `${kind} ${id} ${size} at ${w}`;
          expect(m.viewport, where).toBe(answer.width);
          expect(m.bottom, `${where}: content overflows`).toBeLessThanOrEqual(answer.height);
          expect(m.scrollHeight, `${where}: scrolls`).toBeLessThanOrEqual(answer.height);
          expect(answer.height - m.bottom, `${where}: blank below`).toBeLessThanOrEqual(8);
          expect(m.scrollWidth, `${where}: overflows sideways`).toBeLessThanOrEqual(m.clientWidth);
        }
      } finally {
        await tab.close();
      }
    },
  );

  it("with /embed.js, the frame follows the card when its height changes", async () => {
    const answer = await oembed("album", 1);
    pages.set("/follow", `<!doctype html><html><head><meta charset="utf-8"></head><body>${answer.html}</body></html>`);
    const tab = await browser.newPage();
    try {
      await tab.goto(`http://127.0.0.1:${EMBEDDER_PORT}/follow`, { waitUntil: "networkidle" });
      const iframe = (await tab.$("iframe"))!;
      const frame = (await iframe.contentFrame())!;
      const frameHeight = () => iframe.evaluate((f) => (f as HTMLIFrameElement).getBoundingClientRect().height);
      expect(await frameHeight()).toBe(answer.height);
      // Something in the card grows by 57 px (as a late font or a longer list would).
      const grown = await frame.evaluate(() => {
        const extra = document.createElement("div");
        extra.style.height = "57px";
        document.querySelector(".meta")?.append(extra);
        return Math.ceil((document.body.firstElementChild as HTMLElement).getBoundingClientRect().height);
      });
      expect(grown).toBe(answer.height + 57);
      // Generous: a busy machine may take a while to relay the message.
      await expect.poll(frameHeight, { timeout: 10_000 }).toBe(grown);
    } finally {
      await tab.close();
    }
  });

  describe("axe-core finds nothing to fix", () => {
    const looks: [string, string, "light" | "dark"][] = [
      ["light", "theme=light", "light"],
      ["dark", "theme=dark", "dark"],
      ["yellow accent, light", "accent=facc15", "light"],
      ["yellow accent, dark", "accent=facc15", "dark"],
    ];
    const paths = ["track/1", "artist/3", "album/1", "playlist/6", "track/41", "track/999"].flatMap((p) => [
      p,
      `${p}?size=compact`,
    ]);
    it.each(looks)("on every card, %s", async (_name, query, scheme) => {
      // The card's CSP allows only its own script: axe is let in by bypassing it in this page.
      const context = await browser.newContext({ bypassCSP: true, colorScheme: scheme });
      try {
        const tab = await context.newPage();
        for (const path of paths) {
          const url = `${stack.base}/widget/${path}${path.includes("?") ? "&" : "?"}${query}`;
          await tab.goto(url, { waitUntil: "networkidle" });
          await tab.addScriptTag({ content: axeSource });
          const violations = await tab.evaluate(async () => {
            const result = await (
              window as unknown as {
                axe: { run: () => Promise<{ violations: { id: string; nodes: { html: string }[] }[] }> };
              }
            ).axe.run();
            return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" | ")}`);
          });
          expect(violations, `${path}?${query} (${scheme})`).toEqual([]);
        }
      } finally {
        await context.close();
      }
    });
  });

  describe("SVG cards' text", () => {
    const svgs = ["track/1", "track/41", "track/61", "artist/13", "artist/3", "album/1", "playlist/6", "track/999"];
    it.each(svgs.flatMap((p) => SIZES.map((s) => [p, s] as const)))(
      "%s (%s): every line fits its box, in the card's own font",
      async (path, size) => {
        const tab = await browser.newPage();
        try {
          await tab.goto(`${stack.base}/widget/${path}.svg?size=${size}`, { waitUntil: "networkidle" });
          const r = await tab.evaluate(async () => {
            await document.fonts.ready;
            const svg = document.documentElement as unknown as SVGSVGElement;
            const width = svg.viewBox.baseVal.width;
            const chips = [...svg.querySelectorAll("rect.a")].map((r) => (r as SVGRectElement).getBBox());
            return {
              inter: document.fonts.check("600 17px Inter") && document.fonts.check("400 13px Inter"),
              width,
              texts: [...svg.querySelectorAll("text")].map((t) => {
                const el = t as SVGTextElement;
                const box = el.getBBox();
                return {
                  text: el.textContent ?? "",
                  middle: el.getAttribute("text-anchor") === "middle",
                  left: box.x,
                  right: box.x + el.getComputedTextLength(),
                  y: box.y,
                  bottom: box.y + box.height,
                };
              }),
              chips: chips.map((b) => ({ left: b.x, right: b.x + b.width, y: b.y, bottom: b.y + b.height })),
            };
          });
          expect(r.inter, "the embedded Inter is in use").toBe(true);
          for (const t of r.texts) {
            const overlapsRow = (c: { y: number; bottom: number }) => t.bottom > c.y && t.y < c.bottom;
            if (t.middle) {
              // The price: inside its chip.
              const chip = r.chips.find(overlapsRow);
              expect(chip, `chip for ${t.text}`).toBeDefined();
              expect(t.left).toBeGreaterThanOrEqual(chip!.left);
              expect(t.right).toBeLessThanOrEqual(chip!.right);
              continue;
            }
            // Other lines end 16 px before the card's edge, or 8 px before a chip on their row.
            const chip = r.chips.find(overlapsRow);
            const limit = chip ? chip.left - 8 : r.width - 16;
            expect(t.right, `"${t.text}" runs past its box`).toBeLessThanOrEqual(limit + 0.5);
            // Shortened only when needed: a cut line in the card's font fills its box to within
            // one wide character. (Text in other scripts is drawn by a fallback font whose widths
            // are not known, so it is budgeted generously and may be cut earlier.)
            if (t.text.endsWith("…") && LATIN.test(t.text))
              expect(t.right, `"${t.text}" was cut too early`).toBeGreaterThan(limit - 20);
          }
          if (path === "track/1") expect(r.texts.map((t) => t.text)).toContain("Midnight Run");
          if (path === "track/41") expect(r.texts.some((t) => t.text.endsWith("…"))).toBe(true);
        } finally {
          await tab.close();
        }
      },
    );
  });

  it("unfurls like a chat app: metascraper reads title, description and a PNG image of the stated size", async () => {
    const url = `${stack.base}/widget/track/1`;
    const html = await (await fetch(url, fromOwnAddress())).text();
    const scrape = metascraper([metascraperTitle(), metascraperDescription(), metascraperImage()]);
    const meta = await scrape({ html, url });
    expect(meta.title).toBe("Midnight Run");
    expect(meta.description).toContain("Juno Drift");
    expect(meta.image).toBe(`${stack.base}/widget/track/1.png`);
    const stated = (prop: string) => Number(new RegExp(`property="${prop}" content="(\\d+)"`).exec(html)?.[1]);
    const res = await fetch(meta.image as string, fromOwnAddress());
    expect(res.headers.get("Content-Type")).toBe("image/png");
    const png = Buffer.from(await res.arrayBuffer());
    const shot = decodePng(png);
    expect([shot.width, shot.height]).toEqual([stated("og:image:width"), stated("og:image:height")]);
    expect(png.length).toBeLessThan(100 * 1024);
    expect(shot.colours).toBeGreaterThan(32);
    writeFileSync(`${SHOTS}/track-og.png`, png);

    // The oEmbed answer a consumer at 200 px gets: the narrow frame and the same preview image.
    const narrow = await oembed("track", 1, "&maxwidth=200");
    expect(narrow.width).toBe(200);
    const thumb = await fetch(narrow.thumbnail_url, fromOwnAddress());
    expect(thumb.headers.get("Content-Type")).toBe("image/png");
    const t = decodePng(Buffer.from(await thumb.arrayBuffer()));
    expect([t.width, t.height]).toEqual([narrow.thumbnail_width, narrow.thumbnail_height]);

    // What a Discord-style chat shows for the pasted link, for the README.
    pages.set("/unfurl", unfurlMockup(url, meta as Record<string, string>));
    const tab = await browser.newPage({ viewport: { width: 560, height: 480 }, deviceScaleFactor: 1 });
    try {
      await tab.goto(`http://127.0.0.1:${EMBEDDER_PORT}/unfurl`, { waitUntil: "networkidle" });
      expect(await tab.locator("img").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1200);
      await tab.locator(".chat").screenshot({ path: `${SHOTS}/discord-unfurl.png` });
    } finally {
      await tab.close();
    }
  });
});

/** A chat message with a link preview, styled after Discord's (dark), from what was scraped. */
function unfurlMockup(url: string, meta: Record<string, string>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#313338;font:16px/1.375 "Inter",system-ui,sans-serif;color:#dbdee1}
.chat{padding:16px 16px 20px;width:528px;box-sizing:border-box}.who{font-weight:600;color:#f2f3f5}.when{color:#949ba4;font-size:12px;margin-left:6px}
a{color:#00a8fc;text-decoration:none}.embed{margin-top:6px;max-width:432px;background:#2b2d31;border-left:4px solid #7c3aed;border-radius:4px;padding:8px 16px 16px 12px}
.site{font-size:12px;color:#b5bac1;margin-top:8px}.title{font-weight:600;margin-top:8px}.desc{font-size:14px;margin-top:8px}
.embed img{display:block;margin-top:16px;width:100%;border-radius:4px}</style></head><body><div class="chat">
<div><span class="who">mira.writes</span><span class="when">Today at 21:04</span></div>
<div>new one just dropped: <a href="${esc(url)}">${esc(url)}</a></div>
<div class="embed"><div class="site">BeatPass</div><div class="title"><a href="${esc(url)}">${esc(meta.title ?? "")}</a></div>
<div class="desc">${esc(meta.description ?? "")}</div><img src="${esc(meta.image ?? "")}" alt=""></div></div></body></html>`;
}
