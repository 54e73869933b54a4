import { type Context, Hono } from "hono";
import type { AppEnv } from "../env";
import { readOnly } from "../http/methods";

/** The feed kinds, one route each (/feeds/<kind>/<id or name>.<ext>); feeds/sources.ts reads them. */
export const FEED_KINDS = ["artist", "playlist", "genre", "tag"] as const;

type Serve<P extends string = string> = (c: Context<AppEnv, P>) => Promise<Response>;

/**
 * A handler whose module is imported by its route's first request. The deployed build splits
 * at each dynamic import (scripts/build-worker.mjs), so the card renderer, its fonts and the
 * demo page are parsed only by an isolate that serves a card, never by one serving only JSON.
 */
function lazy<M, P extends string>(load: () => Promise<M>, pick: (m: M) => Serve<P>): Serve<P> {
  let serve: Promise<Serve<P>> | undefined;
  return async (c) => {
    serve ??= load().then(pick, (err: unknown) => {
      // Retried by the next request (never seen: it is our own code).
      serve = undefined;
      throw err;
    });
    return (await serve)(c);
  };
}

type Widgets = typeof import("./widgets");
let widgets: Widgets | undefined;

/**
 * The card module once a card request has imported it, for the hit lane (routes/hit-lane.ts):
 * an isolate that has served no card has no card in memory either.
 */
export const loadedWidgets = (): Widgets | undefined => widgets;

/** The card route (its pattern is also the hit lane's log line for cards). */
export const WIDGET_ROUTE = "/widget/:kind/:file";

/** Cards, oEmbed, the demo page and feeds: the routes that draw (feeds: routes/feeds.ts). */
export function cardRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(
    WIDGET_ROUTE,
    lazy(
      () => import("./widgets"),
      (m) => {
        widgets = m;
        return m.serveWidget;
      },
    ),
  );
  readOnly(app, WIDGET_ROUTE);
  app.get(
    "/oembed",
    lazy(
      () => import("./oembed"),
      (m) => m.serveOembed,
    ),
  );
  readOnly(app, "/oembed");
  const demo = () => import("./demo");
  app.get(
    "/",
    lazy(demo, (m) => m.serveDemo),
  );
  readOnly(app, "/");
  app.get(
    "/embed.js",
    lazy(demo, (m) => m.serveEmbedScript),
  );
  readOnly(app, "/embed.js");
  const feeds = () => import("./feeds");
  for (const kind of FEED_KINDS) {
    const path = `/feeds/${kind}/:file`;
    app.get(
      path,
      lazy(feeds, (m) => m.serveFeed(kind)),
    );
    readOnly(app, path);
  }
  return app;
}
