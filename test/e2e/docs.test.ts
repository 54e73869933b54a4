import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { rendererFiles } from "../../scripts/build-docs.mjs";
import { RENDERER_A11Y_PATH, RENDERER_PATH } from "../../src/render/docs-page";
import { HAVE_CHROMIUM, launch } from "./chromium";

/**
 * The API reference at /docs, under `npm start` (wrangler dev serving the static assets):
 * the renderer and the document come from this deployment with the caching their names
 * promise, every operation can be found, "try it" works against the same deployment, no
 * request leaves for another origin, and axe-core finds nothing serious.
 */

const stack = inject("stack");
// The page is a 4.6 MiB script laying out a few hundred elements: on a loaded 2-core machine a
// search or a dialog takes seconds to appear, not the 1 s expect.poll waits by default.
const PATIENT = { timeout: 15_000 };
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Every operation of the served document as the page lists it: HEAD and OPTIONS are folded into GET. */
async function operations(): Promise<{ method: string; path: string }[]> {
  const doc = (await (await fetch(`${stack.base}/openapi.json`)).json()) as { paths: Record<string, object> };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods)
      .filter((m) => m !== "head" && m !== "options")
      .map((method) => ({ method, path })),
  );
}

describe("the renderer's files", () => {
  it("are served with a year's caching, byte for byte the pinned package's", async () => {
    const res = await fetch(`${stack.base}${RENDERER_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("Content-Type")).toMatch(/javascript/);
    const served = Buffer.from(await res.arrayBuffer());
    expect(served.equals(readFileSync(rendererFiles().source))).toBe(true);
    // Our mending of its markup, named for that version: cached alike.
    const mend = await fetch(`${stack.base}${RENDERER_A11Y_PATH}`);
    expect(mend.status).toBe(200);
    expect(mend.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(await mend.text()).toBe(readFileSync("scripts/docs-assets/renderer-a11y.js", "utf8"));
  });

  it("the document the page shows is cached minutes, and /docs points at both", async () => {
    const ref = await fetch(`${stack.base}/docs-assets/reference.json`);
    expect(ref.status).toBe(200);
    expect(ref.headers.get("Cache-Control")).toBe("public, max-age=300");
    await ref.arrayBuffer();
    const page = await fetch(`${stack.base}/docs`);
    const html = await page.text();
    expect(html).toContain(`src="${RENDERER_PATH}"`);
    expect(html.length).toBeLessThan(2048);
    expect(page.headers.get("Content-Security-Policy")).toContain(
      `script-src ${stack.base}${RENDERER_PATH} ${stack.base}${RENDERER_A11Y_PATH};`,
    );
  });
});

describe.skipIf(!HAVE_CHROMIUM)("/docs in real Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A tab on /docs (at `hash`) that records every request it makes and every CSP refusal. */
  async function open(hash = "", options: { bypassCSP?: boolean; colorScheme?: "light" | "dark" } = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    const tab = await context.newPage();
    const requests: string[] = [];
    const refused: string[] = [];
    tab.on("request", (r) => requests.push(r.url()));
    tab.on("console", (m) => {
      if (m.text().startsWith("CSP violation")) refused.push(m.text());
    });
    await tab.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await tab.goto(`${stack.base}/docs${hash}`, { waitUntil: "networkidle" });
    return { tab, requests, refused, close: () => context.close() };
  }

  it("finds every operation by its path, expands one, and sends nothing to another origin", async () => {
    const { tab, requests, refused, close } = await open();
    try {
      for (const op of await operations()) {
        await tab.getByRole("button", { name: /Open Search/ }).click();
        await tab.getByRole("combobox").first().fill(op.path);
        const hit = tab.getByRole("option").filter({ hasText: new RegExp(`Path:\\s*${escapeRegExp(op.path)}$`) });
        await expect.poll(() => hit.count(), { message: `${op.method} ${op.path}`, ...PATIENT }).toBeGreaterThan(0);
        await expect(hit.first().textContent()).resolves.toMatch(new RegExp(`HTTP Method:\\s*${op.method}`, "i"));
        await tab.keyboard.press("Escape");
      }
      // Expand a group the page starts with closed, then one of its operations.
      await tab.getByRole("button", { name: "Open Group - operators" }).click();
      await tab.getByRole("link", { name: /Health: status for everyone/ }).click();
      await expect
        .poll(() => tab.getByRole("button", { name: "Test Request (get /healthz)" }).isVisible(), PATIENT)
        .toBe(true);
      expect(requests.filter((url) => new URL(url).origin !== stack.base)).toEqual([]);
      // zod (inside the renderer) probes whether eval works; the CSP says no and it goes on without.
      expect(refused.filter((r) => r !== "CSP violation: script-src eval")).toEqual([]);
    } finally {
      await close();
    }
  });

  it('"try it" sends GET /v1/tracks/1 to this deployment and shows the 200 body; the API key field is empty', async () => {
    const { tab, requests, close } = await open("#tag/catalog/GET/v1/tracks/{id}");
    try {
      await tab.getByRole("button", { name: "Test Request (get /v1/tracks/{id})" }).click();
      const client = tab.getByRole("dialog");
      const [res] = await Promise.all([
        tab.waitForResponse((r) => new URL(r.url()).pathname === "/v1/tracks/1"),
        client.getByRole("button", { name: /^Send/ }).first().click(),
      ]);
      expect(res.status()).toBe(200);
      expect(res.request().headers()["x-api-key"]).toBeUndefined();
      const body = (await res.json()) as { data: { id: number; name: string } };
      expect(body.data.id).toBe(1);
      await expect.poll(() => client.getByText("200 OK").first().isVisible(), PATIENT).toBe(true);
      await expect.poll(() => client.getByText(`"${body.data.name}"`).first().isVisible(), PATIENT).toBe(true);

      // The tier's key can be typed in (header X-Api-Key); nothing is filled in for the reader.
      await client.getByRole("button", { name: /Select Auth Type/ }).click();
      await tab.getByRole("option", { name: /^apiKey/ }).click();
      await expect.poll(() => client.getByText("X-Api-Key").first().isVisible(), PATIENT).toBe(true);
      // The key's box shows a placeholder (a made-up value, greyed) and holds nothing.
      const keyBoxes = await client
        .getByRole("textbox")
        .evaluateAll((boxes) => boxes.filter((b) => b.getAttribute("placeholder")).map((b) => b.textContent ?? ""));
      expect(keyBoxes).toEqual([""]);
      expect(requests.filter((url) => new URL(url).origin !== stack.base)).toEqual([]);
    } finally {
      await close();
    }
  });

  it.each(["light", "dark"] as const)("axe-core finds no serious violation (%s)", async (colorScheme) => {
    // The page's CSP allows only the renderer's script: axe is let in by bypassing it here.
    const { tab, close } = await open("#tag/catalog/GET/v1/tracks/{id}", { bypassCSP: true, colorScheme });
    try {
      expect(await seriousViolations(tab), `${colorScheme}: the reference`).toEqual([]);
      await tab.getByRole("button", { name: "Test Request (get /v1/tracks/{id})" }).click();
      await tab.getByRole("dialog").getByRole("button", { name: /^Send/ }).first().waitFor();
      // The request client's own markup has two faults no setting or stylesheet reaches,
      // mended by our script beside the renderer (scripts/docs-assets/renderer-a11y.js).
      expect(await seriousViolations(tab), `${colorScheme}: the request client`).toEqual([]);
    } finally {
      await close();
    }
  });
});

/** axe-core's serious and critical violations, by rule id (each logged with its elements). */
async function seriousViolations(tab: Page): Promise<string[]> {
  await tab.addScriptTag({ content: axeSource });
  const violations = await tab.evaluate(async () => {
    type Result = { violations: { id: string; impact: string; nodes: { html: string }[] }[] };
    const result = await (window as unknown as { axe: { run: () => Promise<Result> } }).axe.run();
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.html.slice(0, 160)) }));
  });
  for (const v of violations) console.warn(`axe ${v.id}: ${v.nodes.join(" | ")}`);
  return violations.map((v) => v.id).sort();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
