import { MAX_ENTITY_ID } from "../schemas/requests";
import { WIDGET_HIDE } from "../schemas/widget";
import { errorResponses, type Json, notModified, ref } from "./components";

/** The widget routes' operations: cards (/widget), /embed.js and /oembed. */

/**
 * A regular expression (source) for the decimal integers 1..max, no leading zeros: where an
 * id is part of a path segment ("7.svg") the spec can only bound it with a pattern.
 */
export function upToPattern(max: number): string {
  const d = String(max);
  const alternatives = d.length > 1 ? [`[1-9][0-9]{0,${d.length - 2}}`] : [];
  for (let i = 0; i < d.length; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(d[i]) - 1;
    if (high < low) continue;
    const rest = d.length - i - 1;
    alternatives.push(`${d.slice(0, i)}[${low}-${high}]${rest ? `[0-9]{${rest}}` : ""}`);
  }
  alternatives.push(d);
  return `(?:${alternatives.join("|")})`;
}

/** The card options (schemas/widget.ts) as query parameters, each with its own description. */
function cardOptionParams(says: { theme: string; size: string; accent: string; hide: string }): Json[] {
  return [
    {
      name: "theme",
      in: "query",
      description: says.theme,
      schema: { type: "string", enum: ["light", "dark", "auto"] },
    },
    { name: "size", in: "query", description: says.size, schema: { type: "string", enum: ["compact", "standard"] } },
    {
      name: "accent",
      in: "query",
      description: says.accent,
      schema: { type: "string", pattern: "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$" },
    },
    { name: "hide", in: "query", schema: { type: "string" }, description: `${says.hide} ${WIDGET_HIDE.join(", ")}` },
  ];
}

export function widgetPaths(): Record<string, Json> {
  return {
    "/widget/{kind}/{file}": {
      get: {
        operationId: "widget",
        summary:
          "An embeddable card: HTML for an iframe, SVG (.svg) for <img> tags, PNG (.png) for link previews and e-mail",
        description:
          "An embeddable card for an iframe (HTML), an <img> tag (SVG, when the file ends in .svg) or a link preview or e-mail (PNG, .png). Errors are drawn as cards in the same format (status 200, the code in X-Problem-Code) so a page never shows raw JSON. Cards are not counted against the per-request limit; requests that would reach BeatPass count against the miss budget, and SVG or PNG cards that no memo holds (drawn afresh) count against the render budget (10 / 40 / 200 per 10 seconds by tier): past it, 429 render_budget with Retry-After and the error card in the card's format, or problem+json when Accept names JSON first.",
        tags: ["widgets"],
        parameters: [
          {
            name: "kind",
            in: "path",
            required: true,
            description: "What the card shows.",
            schema: { type: "string", enum: ["track", "artist", "album", "playlist"] },
          },
          {
            name: "file",
            in: "path",
            required: true,
            description: "The item's id, with .svg for the SVG card or .png for the PNG card.",
            schema: { type: "string", pattern: `^${upToPattern(MAX_ENTITY_ID)}(\\.svg|\\.png)?$` },
          },
          ...cardOptionParams({
            theme: "Colours; auto follows the viewer's system setting.",
            size: "Card layout.",
            accent: "Accent colour as 3 or 6 hex digits.",
            hide: "Comma list of",
          }),
          {
            name: "layout",
            in: "query",
            description:
              "PNG only: og (default) is a 1200 x 630 link preview, card the card alone at its SVG size (480 x 136 standard, 400 x 88 compact).",
            schema: { type: "string", enum: ["og", "card"] },
          },
          {
            name: "width",
            in: "query",
            description:
              "PNG with layout=og only: the preview's width, 200 to 1200, drawn at the nearest of 200, 300, 400, 600, 800 or 1200 px (the smaller on a tie); its height follows at 1.91:1.",
            schema: { type: "integer", minimum: 200, maximum: 1200 },
          },
        ],
        responses: {
          "200": {
            description: "The card, or an error card (X-Problem-Code tells which)",
            content: {
              "text/html": { schema: { type: "string" } },
              "image/svg+xml": { schema: { type: "string" } },
              "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
            },
          },
          ...notModified,
          ...errorResponses([400, 404, 503]),
          "429": {
            description:
              "Past the client's render budget (render_budget): the error card in the card's format, with Retry-After, RateLimit and RateLimit-Policy; application/problem+json when Accept names JSON before the card's type.",
            headers: { "Retry-After": { schema: { type: "integer", minimum: 1 } } },
            content: {
              "text/html": { schema: { type: "string" } },
              "image/svg+xml": { schema: { type: "string" } },
              "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
              "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
            },
          },
        },
      },
    },
    "/embed.js": {
      get: {
        operationId: "embedScript",
        summary: "Optional script that keeps card iframes at their card's height",
        description:
          'A dependency-free script for pages embedding cards: iframes marked data-beatpass-embed follow the height their card posts ({type: "beatpass-embed:resize", height}). Cached a day.',
        tags: ["widgets"],
        responses: {
          "200": { description: "The script", content: { "text/javascript": { schema: { type: "string" } } } },
          ...notModified,
        },
      },
    },
    "/oembed": {
      get: {
        operationId: "oembed",
        summary: "oEmbed 1.0 rich response for a BeatPass track, artist, album or playlist URL",
        description:
          "oEmbed 1.0 (JSON) for a BeatPass page URL, so sites and chat apps can embed the card. The html member holds the iframe. Errors as oEmbed 1.0 names them: 404 when there is no card for the URL (not a BeatPass page, unknown or removed item, no layout fits), 401 for an item BeatPass does not make public (not_public; also invalid_api_key), 501 for format=xml.",
        tags: ["widgets"],
        parameters: [
          {
            name: "url",
            in: "query",
            required: true,
            description: "A BeatPass page URL (https://beatpass.ca/track/<id>, /artist/, /album/, /playlist/).",
            schema: { type: "string" },
          },
          {
            name: "maxwidth",
            in: "query",
            description:
              "Largest width the consumer can show (px); cards are 480 wide at most and 200 at least (404 below).",
            schema: { type: "integer", minimum: 1 },
          },
          {
            name: "maxheight",
            in: "query",
            description:
              "Largest height the consumer can show (px): the fullest layout that fits (standard, compact, compact without the track list); 404 when none does.",
            schema: { type: "integer", minimum: 1 },
          },
          ...cardOptionParams({
            theme: "Passed to the card.",
            size: "Passed to the card; without it, the size is chosen to fit maxheight.",
            accent: "Passed to the card.",
            hide: "Passed to the card: comma list of",
          }),
          {
            name: "format",
            in: "query",
            description: "json (the default); xml is oEmbed's other format, answered 501.",
            schema: { type: "string", enum: ["json", "xml"] },
          },
        ],
        responses: {
          "200": { description: "oEmbed rich response", content: { "application/json": { schema: ref("OEmbed") } } },
          ...notModified,
          ...errorResponses([400, 401, 404, 429, 501, 502, 503, 504]),
        },
      },
    },
  };
}
