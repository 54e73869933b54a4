import type { Config } from "../env";
import { stringBytes } from "../lib/byte-lru";
import { sha256Base64 } from "../lib/hash";
import { memo } from "../lib/memo-budget";
import { RESIZE_SCRIPT } from "../render/page";
import { CARD_CSS, themeCss } from "../render/theme";
import { cspSources } from "../render/urls";
import type { WidgetOptions } from "../schemas/widget";

/** The headers of a card in each format (routes/widgets.ts), its CSP above all. */

export type Format = "html" | "svg" | "png";

export async function widgetHeaders(
  format: Format,
  config: Config,
  options: WidgetOptions,
): Promise<Record<string, string>> {
  if (format === "png") return { "Content-Type": "image/png", "Cross-Origin-Resource-Policy": "cross-origin" };
  if (format === "svg") {
    return {
      "Content-Type": "image/svg+xml; charset=utf-8",
      // Opened directly, an SVG is a document: forbid everything it does not need.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:",
      "Cross-Origin-Resource-Policy": "cross-origin",
    };
  }
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": await htmlCsp(themeCss(options), config),
  };
}

// Keyed by the theme's part of the stylesheet only: CARD_CSS is the same for every card.
const cspHashes = memo<string>("csp-hashes", { sizeOf: (hash) => stringBytes(hash) });
let scriptHash: string | undefined;

/**
 * CSP for a card: only its own <style> and resize script (by hash), images from the
 * allowlist, framing per config. `theme` is themeCss(options); the <style> holds it followed
 * by CARD_CSS.
 */
async function htmlCsp(theme: string, config: Config): Promise<string> {
  let hash = cspHashes.get(theme);
  if (!hash) {
    hash = await sha256Base64(theme + CARD_CSS);
    cspHashes.set(theme, hash);
  }
  scriptHash ??= await sha256Base64(RESIZE_SCRIPT);
  return [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    `script-src 'sha256-${scriptHash}'`,
    `img-src ${cspSources(config.imageHosts)} data:`,
    `frame-ancestors ${config.frameAncestors}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}
