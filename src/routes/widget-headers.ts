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
  return knownWidgetHeaders(format, config, options) ?? htmlHeaders(await htmlCsp(options, config));
}

/**
 * `widgetHeaders` without an await, or undefined for an HTML card whose stylesheet's hash
 * is not yet known in this isolate (the hit lane then leaves the card to the app).
 */
export function knownWidgetHeaders(
  format: Format,
  config: Config,
  options: WidgetOptions,
): Record<string, string> | undefined {
  if (format === "png") return { "Content-Type": "image/png", "Cross-Origin-Resource-Policy": "cross-origin" };
  if (format === "svg") {
    return {
      "Content-Type": "image/svg+xml; charset=utf-8",
      // Opened directly, an SVG is a document: forbid everything it does not need.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:",
      "Cross-Origin-Resource-Policy": "cross-origin",
    };
  }
  const hash = cspHashes.get(cspKey(options));
  return hash !== undefined && scriptHash !== undefined ? htmlHeaders(csp(hash, scriptHash, config)) : undefined;
}

function htmlHeaders(csp: string): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": csp,
  };
}

// By theme and accent, all the stylesheet depends on (CARD_CSS is the same for every card):
// a card served from memory then builds no stylesheet to find its hash.
const cspHashes = memo<string>("csp-hashes", { sizeOf: (hash, key) => stringBytes(hash) + stringBytes(key) });
let scriptHash: string | undefined;

/**
 * CSP for a card: only its own <style> (themeCss(options) followed by CARD_CSS) and resize
 * script, by hash, images from the allowlist, framing per config.
 */
async function htmlCsp(options: WidgetOptions, config: Config): Promise<string> {
  const key = cspKey(options);
  let hash = cspHashes.get(key);
  if (!hash) {
    hash = await sha256Base64(themeCss(options) + CARD_CSS);
    cspHashes.set(key, hash);
  }
  scriptHash ??= await sha256Base64(RESIZE_SCRIPT);
  return csp(hash, scriptHash, config);
}

const cspKey = (options: WidgetOptions) => `${options.theme}|${options.accent ?? ""}`;

const csp = (styleHash: string, script: string, config: Config) =>
  `default-src 'none'; style-src 'sha256-${styleHash}'; script-src 'sha256-${script}'; ${configured(config)}`;

// The directives that come from config, built once per config (once per isolate).
const byConfig = new WeakMap<Config, string>();

function configured(config: Config): string {
  let directives = byConfig.get(config);
  if (directives === undefined) {
    directives = [
      `img-src ${cspSources(config.imageHosts)} data:`,
      `frame-ancestors ${config.frameAncestors}`,
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; ");
    byConfig.set(config, directives);
  }
  return directives;
}
