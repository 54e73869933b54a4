import type { Context } from "hono";
import { etagFor } from "../cache/entry";
import { META_TAG } from "../cache/purge";
import { identifyClient } from "../clients/limits";
import { type AppEnv, loadConfig } from "../env";
import { feedFor } from "../feeds/links";
import { matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { sha256Base64 } from "../lib/hash";
import { DEMO_CSS, DEMO_ITEMS, type DemoCard, demoPage } from "../render/demo";
import { EMBED_JS } from "../render/embed-script";
import { widgetQuerySchema } from "../schemas/widget";
import { loadCard } from "./card-data";
import { CATALOG_PATHS } from "./catalog";
import { tierDeps } from "./deps";

/**
 * "/": the demo page for browsers (every card with the snippets a site owner copies, each
 * sized from the card as it is drawn) or the route index for API clients; and /embed.js.
 * Registered in routes/cards.ts, which imports this module when one of them is first asked.
 */
export async function serveDemo(c: Context<AppEnv>): Promise<Response> {
  c.header("Cache-Control", "public, max-age=300");
  c.header("Cache-Tag", META_TAG);
  c.header("Vary", "Accept");
  // Browsers get the demo page; API clients asking for JSON get the route index.
  if (!(c.req.header("Accept") ?? "").includes("application/json")) {
    c.header("Content-Security-Policy", await demoCsp());
    return c.html(demoPage(new URL(c.req.url).origin, await demoCards(c)));
  }
  return c.json({
    name: "beatpass-edge",
    description: "BeatPass catalog data without the BeatPass token.",
    routes: CATALOG_PATHS.map((p) => `/v1${p}`),
    widgets: ["/widget/{track,artist,album,playlist}/:id", "/widget/{track,artist,album,playlist}/:id.{svg,png}"],
    feeds: ["/feeds/artist/:id", "/feeds/playlist/:id", "/feeds/genre/:name", "/feeds/tag/:name"].map(
      (p) => `${p}.{atom,rss,json}`,
    ),
    oembed: "/oembed?url=https://beatpass.ca/track/:id&format=json",
    health: "/healthz",
    openapi: "/openapi.json",
    docs: "/docs",
  });
}

/** GET /embed.js. */
export async function serveEmbedScript(c: Context<AppEnv>): Promise<Response> {
  embedEtag ??= await etagFor(EMBED_JS);
  const headers = {
    "Content-Type": "text/javascript; charset=utf-8",
    // Long, but not immutable: the URL has no version, so a fix must still reach pages.
    "Cache-Control": "public, max-age=86400, stale-while-revalidate=604800",
    "Cache-Tag": META_TAG,
    ETag: embedEtag,
    "Cross-Origin-Resource-Policy": "cross-origin",
  };
  if (matchesEtag(c.req.header("If-None-Match"), embedEtag)) return send(c, null, 304, headers);
  return send(c, EMBED_JS, 200, headers);
}

let embedEtag: string | undefined;

/**
 * The demo's cards with their exact heights, read like any card (cached, counted against the
 * visitor's miss budget). A card that cannot be read is shown without a height; embed.js,
 * which the page loads, sizes it.
 */
async function demoCards(c: Context<AppEnv>): Promise<DemoCard[]> {
  const loaded = loadConfig(c.env);
  if (!loaded.ok) return DEMO_ITEMS;
  const config = loaded.config;
  const options = widgetQuerySchema.parse({});
  const client = await identifyClient(c, false).catch(() => undefined);
  if (!client) return DEMO_ITEMS;
  const deps = tierDeps(c.env, c.executionCtx, config, client, c.get("trace"));
  const l = { config, env: c.env, deps, options, trace: c.get("trace"), client };
  return Promise.all(
    DEMO_ITEMS.map(async (item): Promise<DemoCard> => {
      try {
        const view = await loadCard(item.kind, item.id, l, { wave: false });
        return { ...item, height: view.html().height, feed: feedFor(item.kind, view.data) };
      } catch {
        return item;
      }
    }),
  );
}

let demoCspValue: string | undefined;

/** The demo page may frame and show this Worker's own widgets, and run its embed.js, and nothing else. */
async function demoCsp(): Promise<string> {
  demoCspValue ??= `default-src 'none'; style-src 'sha256-${await sha256Base64(DEMO_CSS)}'; script-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'none'`;
  return demoCspValue;
}
