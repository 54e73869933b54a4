import type { Config } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import { errorCard } from "../render/html-card";
import { htmlPage } from "../render/page";
import { type PngLayout, rasterise, svgForPng } from "../render/png";
import { errorSvg } from "../render/svg-card";
import { CARD_CSS, themeCss } from "../render/theme";
import { BEATPASS_WEB_ORIGIN, type EntityKind } from "../render/urls";
import type { WidgetOptions } from "../schemas/widget";
import type { Format } from "./widget-headers";

/**
 * How a card fails, decided once: in words a listener understands, drawn in the card's own
 * format (HTML, SVG or PNG) and sent with status 200. The problem code travels in
 * X-Problem-Code for whoever debugs the embed; the viewer never sees it.
 *
 * Why 200: a card is looked at, not parsed. Image proxies such as GitHub's camo replace a
 * non-2xx image with a broken-image icon, so an error card with a 4xx/5xx status would never
 * be seen; an iframe shows any body, and keeping 200 there too leaves every non-2xx answer of
 * this Worker a problem+json document, but one: a client past its render budget
 * (src/clients/render-budget.ts) gets its error card with 429 and Retry-After (and problem+json
 * if it asked for JSON), so that whoever floods the route with new options is told to stop in
 * the status too. Invalid input (400) is not drawn: it is the embedder's mistake, answered as
 * problem+json like on every other route.
 */

export interface ViewerError {
  code: string;
  heading: string;
  message: string;
  /** Where "Open BeatPass" leads. */
  href: string;
  cacheControl: string;
  /**
   * About the client rather than the card (its key, its limits): drawn without charging its
   * render budget, which refused it or cannot be known. Such cards are few (no id, no accent).
   */
  aboutClient: boolean;
}

const NOUN: Record<EntityKind, string> = { track: "track", artist: "artist", album: "album", playlist: "playlist" };
const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The viewer's version of a failure. Caching: "does not exist" for a minute, anything
 * transient for ten seconds (a card recovers quickly once BeatPass does), and a client's own
 * limit never in a shared cache (it is about that viewer's network, not the card).
 */
export function viewerError(err: unknown, kind: EntityKind, pageUrl: string, requestId: string): ViewerError {
  const problem =
    err instanceof ApiError ? err : new ApiError("internal", "An unexpected error occurred.", { cause: err });
  if (problem.code === "invalid_request") throw problem;
  if (problem.status >= 500) {
    logEvent(problem.code === "internal" ? "error" : "warn", "widget_failed", {
      request_id: requestId,
      code: problem.code,
      cause: problem.cause instanceof Error ? problem.cause.message : undefined,
    });
  }
  const noun = NOUN[kind];
  const base = { code: problem.code, href: pageUrl, aboutClient: false };
  switch (problem.code) {
    case "not_found":
      return {
        ...base,
        heading: `${capital(noun)} unavailable`,
        message: `This ${noun} isn't available on BeatPass.`,
        cacheControl: "public, max-age=60",
      };
    case "gone":
      return {
        ...base,
        heading: `${capital(noun)} removed`,
        message: `This ${noun} was removed from BeatPass.`,
        cacheControl: "public, max-age=60",
      };
    case "forbidden":
      return {
        ...base,
        heading: `${capital(noun)} is private`,
        message: `This ${noun} is private on BeatPass.`,
        cacheControl: "public, max-age=60",
      };
    case "invalid_api_key":
      return {
        ...base,
        heading: "Card unavailable",
        message: "This card can't be shown with the key it was requested with.",
        href: BEATPASS_WEB_ORIGIN,
        cacheControl: "private, no-store",
        aboutClient: true,
      };
    case "rate_limited":
    case "client_miss_budget":
    case "render_budget":
      return {
        ...base,
        heading: "Card paused",
        message: "Too many new cards were loaded from your network. Try again in a minute.",
        href: BEATPASS_WEB_ORIGIN,
        cacheControl: "private, no-store",
        aboutClient: true,
      };
    default:
      return {
        ...base,
        heading: "BeatPass is unavailable",
        message: "BeatPass can't be reached right now. Try again in a moment.",
        cacheControl: "public, max-age=10",
      };
  }
}

/** An error card in the card's format, drawn in `looks` (kept in the card memo by routes/widgets.ts). */
export function drawError(
  t: { format: Format; layout: PngLayout; width: number | undefined },
  e: ViewerError,
  looks: WidgetOptions,
  config: Config,
  raster: Fetcher | undefined,
): Promise<string | Uint8Array> {
  if (t.format === "svg") return Promise.resolve(errorSvg(e.heading, e.message, looks, { fonts: true }));
  if (t.format === "png")
    return rasterise(raster, errorSvg(e.heading, e.message, looks, svgForPng(t.layout, looks.size, t.width)));
  const card = errorCard(e.heading, e.message, e.href, { options: looks, imageHosts: config.imageHosts });
  return Promise.resolve(htmlPage(card, themeCss(looks) + CARD_CSS, looks.size));
}

/**
 * Whether a refused card's caller asked for JSON rather than the card: its Accept names JSON
 * before the card's own type (or its wildcard). Browsers and image proxies ask for images or
 * HTML (and * / * last), so they get the card.
 */
export function asksForJson(accept: string | undefined, format: Format): boolean {
  if (!accept) return false;
  const json = accept.search(/application\/(problem\+)?json/i);
  if (json < 0) return false;
  const own = accept.search(
    format === "html" ? /text\/html/i : format === "svg" ? /image\/(svg\+xml|\*)/i : /image\/(png|\*)/i,
  );
  return own < 0 || json < own;
}
