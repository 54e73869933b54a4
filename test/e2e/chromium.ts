import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";

/**
 * Real headless Chromium: Debian's package, driven by playwright-core (nothing downloaded).
 * Required in CI (.ci/run installs it); elsewhere, without it, browser files skip with a
 * message so `npm test` still passes on a machine without a browser.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!HAVE_CHROMIUM)
  console.warn(`Skipping browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);

// Headless, no sandbox as root, and no background networking (the machine's closed network
// refuses those connections noisily).
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

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Where screenshots go: the README's pictures with UPDATE_SCREENSHOTS=1, else a scratch folder. */
export const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? "docs/screenshots" : "test-results/screenshots";
