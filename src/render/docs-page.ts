/**
 * /docs: a page that loads the API reference renderer (Scalar's standalone bundle, pinned in
 * package.json) and the document as the page shows it, both static assets of this deployment
 * (scripts/build-docs.mjs writes them; wrangler.toml [assets] serves them without running the
 * Worker). Why Scalar, and what each setting below keeps off: docs/api.md, "The reference page".
 */

/** The pinned renderer's version: the name it is served under carries it, so it is cached a year. */
export const RENDERER_VERSION = "1.76.0";
export const RENDERER_PATH = `/docs-assets/scalar-api-reference-${RENDERER_VERSION}/standalone.js`;
/**
 * Our mending of two accessibility faults in that version's markup
 * (scripts/docs-assets/renderer-a11y.js), cached a year like the renderer: bump the number
 * when the file changes.
 */
export const RENDERER_A11Y_PATH = `/docs-assets/scalar-api-reference-${RENDERER_VERSION}/a11y-1.js`;
/** /openapi.json with examples, HEAD and OPTIONS folded into GET, problem codes linked. */
export const REFERENCE_PATH = "/docs-assets/reference.json";

const LIGHT_COLOURS = { 3: "#6b6b6b", orange: "#b84000", green: "#067a52", red: "#c20005", yellow: "#8a6d00" };

const CONFIGURATION = JSON.stringify({
  url: REFERENCE_PATH,
  // Inter from fonts.scalar.com, usage reports, the AI agent (on by default on localhost) and
  // the request proxy would each make the page call a third party: all off. "Try it" sends
  // requests from the browser to this deployment, which answers CORS for them.
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  showDeveloperTools: "never",
  // An API key typed into the page lives as long as the tab: never written to localStorage.
  persistAuth: false,
  hideClientButton: true,
  documentDownloadType: "json",
  // Its faint text and its syntax colours on light backgrounds (#8e8e8e, #ff5800, #069061...)
  // are under WCAG AA's 4.5:1 (axe: color-contrast); these are the nearest that pass.
  customCss: `.light-mode{${Object.entries(LIGHT_COLOURS)
    .map(([name, value]) => `--scalar-color-${name}:${value}!important`)
    .join(";")}}.dark-mode{--scalar-color-3:#a0a0a0!important}`,
}).replaceAll('"', "&quot;");

/** The page: a configuration for the renderer, its mending, and the renderer. */
export function docsPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>beatpass-edge API reference</title><link rel="icon" href="data:,"></head><body><noscript>The reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a>.</noscript><script id="api-reference" type="application/json" data-configuration="${CONFIGURATION}"></script><script src="${RENDERER_A11Y_PATH}"></script><script src="${RENDERER_PATH}"></script></body></html>`;
}

/**
 * Scripts: the renderer's file and our mending of it, nothing else (no eval either: the renderer's zod probes for
 * it, is refused, and goes on without; the console shows that refusal). Requests ("try it",
 * the document): this origin only. Styles: inline, because the renderer injects style
 * elements (one without the csp-nonce it offers for the others) and sets style attributes,
 * which no nonce covers; a style cannot run code.
 */
export function docsCsp(origin: string): string {
  return [
    "default-src 'none'",
    `script-src ${origin}${RENDERER_PATH} ${origin}${RENDERER_A11Y_PATH}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
