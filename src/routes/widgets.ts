import { type Context, Hono } from "hono";
import { getOrLoad, type Served } from "../cache/engine";
import { etagFor } from "../cache/entry";
import { cacheKey, canonicalParams } from "../cache/keys";
import type { FamilyPolicy } from "../cache/policy";
import { cacheTags } from "../cache/purge";
import type { TierDeps } from "../cache/tiers";
import { type AppEnv, type Config, requireConfig } from "../env";
import { ApiError } from "../errors";
import { readOnly } from "../http/methods";
import { cacheHeaders, matchesEtag } from "../http/respond";
import { send } from "../http/send";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { sha256Base64 } from "../lib/hash";
import { logEvent } from "../lib/log";
import { memo } from "../lib/memo-budget";
import type { Client, Trace } from "../lib/trace";
import {
  artistCard,
  type Card,
  type CardContext,
  collectionCard,
  errorCard,
  htmlPage,
  trackCard,
} from "../render/html-card";
import { albumSvg, artistSvg, errorSvg, trackSvg } from "../render/svg-card";
import { CARD_CSS, themeCss } from "../render/theme";
import { allowedUrl, beatpassPageUrl, cspSources, type EntityKind } from "../render/urls";
import type { Album, Artist, Playlist, Track, Wave } from "../schemas/entities";
import { idParamsSchema } from "../schemas/requests";
import { optionsKey, type WidgetOptions, widgetQuerySchema } from "../schemas/widget";
import { fetchImageDataUri } from "../upstream/images";
import { pickParams, readThrough, schemaKeys, tierDeps } from "./catalog";

/**
 * Embeddable cards: /widget/<kind>/<id> is an HTML document for an iframe, and
 * /widget/<kind>/<id>.svg an image for <img> tags and READMEs (tracks, artists, albums).
 * Data comes through the same cache engine as the JSON routes (a cached card costs no
 * upstream request, and one fetch serves every theme and size); rendering is a pure function
 * of that data and the options, so the ETag is computed from the data's ETags and the
 * options alone, and a 304 renders nothing.
 */

type Format = "html" | "svg";

/** Bump when the markup changes, so browsers do not keep a 304 for an old design. */
const RENDER_VERSION = "1";

interface View {
  /** What the card depends on besides the options: data ETags. */
  etagParts: string[];
  primary: Served;
  policy: FamilyPolicy;
  html?: () => Card;
  svg?: (art: string | undefined) => string;
  /** Artwork for the SVG, fetched only for SVG. */
  artUrl?: string | null;
}

interface LoadContext {
  config: Config;
  env: AppEnv["Bindings"];
  deps: TierDeps;
  options: WidgetOptions;
  trace: Trace;
  client: Client;
}

const KINDS: Record<EntityKind, (id: number, l: LoadContext) => Promise<View>> = {
  track: async (id, l) => {
    // The track first: for an id BeatPass does not have, the waveform is never asked for
    // (one upstream request per missing track, not two). The waveform is decoration: a card
    // without it beats no card.
    const track = await read(l, "track", { id: String(id) }, `track ${id}`);
    const wave = l.options.hide.has("waveform")
      ? undefined
      : await read(l, "track-wave", { id: String(id) }, `track ${id}`).catch(() => undefined);
    const t = track.data as Track;
    const w = wave?.data as Wave | undefined;
    return {
      etagParts: [track.served.entry.etag, wave?.served.entry.etag ?? "-"],
      primary: track.served,
      policy: l.config.policy.entity,
      html: () => trackCard(t, w, { options: l.options, imageHosts: l.config.imageHosts }),
      svg: (art) => trackSvg(t, w, art, l.options),
      artUrl: t.image,
    };
  },
  artist: async (id, l) =>
    entityView<Artist>(await read(l, "artist", { id: String(id), with: "genres,topTracks" }, `artist ${id}`), l, {
      html: (a, ctx) => artistCard(a, ctx),
      svg: (a, art) => artistSvg(a, art, l.options),
      art: (a) => a.image_small,
    }),
  album: async (id, l) =>
    entityView<Album>(await read(l, "album", { id: String(id), with: "artists,tracks" }, `album ${id}`), l, {
      html: (a, ctx) => collectionCard("album", a, ctx),
      svg: (a, art) => albumSvg(a, art, l.options),
      art: (a) => a.image,
    }),
  playlist: async (id, l) =>
    entityView<Playlist>(await read(l, "playlist", { id: String(id) }, `playlist ${id}`), l, {
      html: (p, ctx) => collectionCard("playlist", p, ctx),
    }),
};

function read(l: LoadContext, name: string, raw: Record<string, string>, subject: string) {
  return readThrough(name, raw, subject, l.config, l.env, l.deps, l.trace, l.client);
}

/** A card drawn from a single entity read (artist, album, playlist). */
function entityView<T>(
  r: { data: unknown; served: Served },
  l: LoadContext,
  draw: {
    html: (data: T, ctx: CardContext) => Card;
    svg?: (data: T, art: string | undefined) => string;
    art?: (data: T) => string | null | undefined;
  },
): View {
  const data = r.data as T;
  const svg = draw.svg;
  return {
    etagParts: [r.served.entry.etag],
    primary: r.served,
    policy: l.config.policy.entity,
    html: () => draw.html(data, { options: l.options, imageHosts: l.config.imageHosts }),
    svg: svg && ((art) => svg(data, art)),
    artUrl: draw.art?.(data),
  };
}

const isKind = (k: string): k is EntityKind => Object.hasOwn(KINDS, k);

// Validated options by the raw values of the parameters the schema reads: a popular embed's
// options are parsed once, and junk parameters make no new entries. Only valid input is
// stored, and the schema keeps valid values short, so keys stay short.
const WIDGET_PARAMS = schemaKeys(widgetQuerySchema);
const optionsMemo = memo<WidgetOptions>("widget-options", {
  // The options object, its Set and the Set's table; their strings are about the key's text.
  sizeOf: (_o, key) => stringBytes(key) + 3 * SMALL_OBJECT_BYTES,
});
function widgetOptions(query: Record<string, string>): WidgetOptions {
  const known = pickParams(query, WIDGET_PARAMS);
  const key = canonicalParams(known);
  let options = optionsMemo.get(key);
  if (!options) {
    options = validate("query", widgetQuerySchema, known);
    optionsMemo.set(key, options);
  }
  return options;
}

export function widgetRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/widget/:kind/:file", async (c) => {
    const kind = c.req.param("kind");
    const m = /^(.*?)(\.svg)?$/.exec(c.req.param("file"));
    const format: Format = m?.[2] ? "svg" : "html";
    if (!isKind(kind)) throw new ApiError("not_found", "There is no such widget.");
    const view = KINDS[kind];
    if (format === "svg" && kind === "playlist")
      throw new ApiError("not_found", "Playlists have no SVG card; use the HTML widget.");
    const { id } = validate("path", idParamsSchema, { id: m?.[1] ?? "" });
    const options = widgetOptions(c.req.query());
    const config = requireConfig(c.env);
    const l: LoadContext = {
      config,
      env: c.env,
      deps: tierDeps(c.env, c.executionCtx, config, c.get("client"), c.get("trace")),
      options,
      trace: c.get("trace"),
      client: c.get("client"),
    };
    try {
      return await respond(c, kind, id, format, await view(id, l), l);
    } catch (err) {
      return await widgetFailure(c, err, format, options, cacheTags(kind, { id: String(id) }));
    }
  });
  readOnly(app, "/widget/:kind/:file");
  return app;
}

async function respond(
  c: Context<AppEnv>,
  kind: EntityKind,
  id: number,
  format: Format,
  view: View,
  l: LoadContext,
): Promise<Response> {
  const art = format === "svg" ? await artwork(view.artUrl, l) : undefined;
  const origin = new URL(c.req.url).origin;
  // Everything the output depends on; the same input always renders the same bytes.
  const input = [
    RENDER_VERSION,
    origin,
    kind,
    format,
    optionsKey(l.options),
    ...view.etagParts,
    art?.etag ?? "-",
    // Config the card depends on: its CSP, and which artwork it may show.
    l.config.frameAncestors,
    l.config.imageHosts.join(","),
  ].join("|");
  let rendered = renderMemo.get(input);
  if (!rendered) {
    rendered = { etag: await etagFor(input) };
    renderMemo.set(input, rendered);
  }
  const served: Served = { ...view.primary, entry: { ...view.primary.entry, etag: rendered.etag } };
  const tags = cacheTags(kind, { id: String(id) });
  const headers = { ...cacheHeaders(served, view.policy, tags), ...widgetHeaders(format, l.config) };
  if (matchesEtag(c.req.header("If-None-Match"), rendered.etag)) return send(c, null, 304, headers);
  const output = rendered.output ?? (await render(origin, kind, id, format, view, l, art?.dataUri));
  if (!rendered.output) {
    rendered.output = output;
    // Counted afresh now that it holds the body (a card too large for the budget is dropped).
    renderMemo.set(input, rendered);
  }
  if (output.csp) headers["Content-Security-Policy"] = output.csp;
  return send(c, output.body, 200, headers);
}

/**
 * Rendered cards by their inputs (normalized options, data ETags, config; never the URL): a
 * hot card is rendered once, not once per view. An entry holds the ETag until the card is
 * first sent in full, then the body too (an SVG card inlines its artwork).
 */
type Rendered = { etag: string; output?: { body: string; csp?: string } };
const renderMemo = memo<Rendered>("cards", {
  sizeOf: (r) =>
    SMALL_OBJECT_BYTES +
    stringBytes(r.etag) +
    (r.output ? SMALL_OBJECT_BYTES + stringBytes(r.output.body) + stringBytes(r.output.csp ?? "") : 0),
});

async function render(
  origin: string,
  kind: EntityKind,
  id: number,
  format: Format,
  view: View,
  l: LoadContext,
  artDataUri: string | undefined,
): Promise<{ body: string; csp?: string }> {
  if (format === "svg") return { body: (view.svg as (a: string | undefined) => string)(artDataUri) };
  const theme = themeCss(l.options);
  const card = (view.html as () => Card)();
  const oembed = `${origin}/oembed?url=${encodeURIComponent(beatpassPageUrl(kind, id, card.title))}&format=json`;
  return { body: htmlPage(card, theme + CARD_CSS, l.options, oembed), csp: await htmlCsp(theme, l.config) };
}

function widgetHeaders(format: Format, config: Config): Record<string, string> {
  if (format === "svg") {
    return {
      "Content-Type": "image/svg+xml; charset=utf-8",
      // Opened directly, an SVG is a document: forbid everything it does not need.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      "Cross-Origin-Resource-Policy": "cross-origin",
    };
  }
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": `default-src 'none'; frame-ancestors ${config.frameAncestors}`,
  };
}

// Keyed by the theme's part of the stylesheet only: CARD_CSS is the same for every card.
const cspHashes = memo<string>("csp-hashes", { sizeOf: (hash) => stringBytes(hash) });

/**
 * CSP for a card: only its own <style> (by hash), images from the allowlist, framing per
 * config. `theme` is themeCss(options); the <style> holds it followed by CARD_CSS.
 */
async function htmlCsp(theme: string, config: Config): Promise<string> {
  let hash = cspHashes.get(theme);
  if (!hash) {
    hash = await sha256Base64(theme + CARD_CSS);
    cspHashes.set(theme, hash);
  }
  return [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    `img-src ${cspSources(config.imageHosts)} data:`,
    `frame-ancestors ${config.frameAncestors}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** The card's artwork as a data: URI, through the cache; missing or failing art is left out. */
async function artwork(
  raw: string | null | undefined,
  l: LoadContext,
): Promise<{ dataUri: string; etag: string } | undefined> {
  if (l.options.hide.has("artwork")) return undefined;
  const url = allowedUrl(raw, l.config.imageHosts);
  if (!url) return undefined;
  try {
    const served = await getOrLoad(l.deps, {
      key: await cacheKey("image", { url }),
      policy: l.config.policy.media,
      load: () => fetchImageDataUri(url),
      serveStaleOn: () => true,
    });
    return { dataUri: served.entry.body, etag: served.entry.etag };
  } catch (err) {
    logEvent("info", "widget_artwork_skipped", { reason: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

const FRIENDLY: Partial<Record<string, string>> = {
  not_found: "This item is not on BeatPass.",
  gone: "This item was removed from BeatPass.",
  forbidden: "This item is not public on BeatPass.",
};

/**
 * How every widget fails, decided here once: the error is drawn in the widget's own format
 * (an HTML or SVG card with the problem code) and sent with status 200.
 *
 * Why 200: a widget is looked at, not parsed. Image proxies such as GitHub's camo replace a
 * non-2xx image with a broken-image icon, so an SVG error card with a 4xx/5xx status would
 * never be seen; an iframe shows any body, and keeping 200 there too leaves every non-2xx
 * answer of this Worker a problem+json document. The code still travels in X-Problem-Code.
 * Caching: "does not exist" for a minute, anything transient for ten seconds, so a card
 * recovers quickly once BeatPass does. Invalid input (400) is not drawn: it is the embedder's
 * mistake, answered as problem+json like on every other route.
 */
async function widgetFailure(
  c: Context<AppEnv>,
  err: unknown,
  format: Format,
  options: WidgetOptions,
  tags: string[],
): Promise<Response> {
  const problem =
    err instanceof ApiError ? err : new ApiError("internal", "An unexpected error occurred.", { cause: err });
  if (problem.code === "invalid_request") throw problem;
  if (problem.status >= 500) {
    logEvent(problem.code === "internal" ? "error" : "warn", "widget_failed", {
      request_id: c.get("requestId"),
      code: problem.code,
      cause: problem.cause instanceof Error ? problem.cause.message : undefined,
    });
  }
  const message = FRIENDLY[problem.code] ?? "BeatPass is unavailable right now. Try again in a moment.";
  const maxAge = problem.code === "not_found" || problem.code === "gone" ? 60 : 10;
  const config = requireConfig(c.env);
  const headers: Record<string, string> = {
    ...widgetHeaders(format, config),
    "Cache-Control": `public, max-age=${maxAge}`,
    "Cache-Tag": tags.join(","),
    "X-Problem-Code": problem.code,
  };
  if (format === "svg") return send(c, errorSvg(problem.code, message, options), 200, headers);
  const theme = themeCss(options);
  headers["Content-Security-Policy"] = await htmlCsp(theme, config);
  return send(c, htmlPage(errorCard(problem.code, message), theme + CARD_CSS, options), 200, headers);
}
