import * as z from "zod/mini";
import { commaListSchema } from "./requests";

/** Fields a site owner may hide from a card. */
export const WIDGET_HIDE = [
  "artists",
  "artwork",
  "badge",
  "bpm",
  "duration",
  "key",
  "license",
  "price",
  "tracks",
  "waveform",
] as const;
export type HideField = (typeof WIDGET_HIDE)[number];

export const widgetQuerySchema = z.pipe(
  z.object({
    theme: z._default(z.enum(["light", "dark", "auto"]), "auto"),
    size: z._default(z.enum(["compact", "standard"]), "standard"),
    // A hex colour and nothing else: it is the only value that reaches CSS.
    accent: z.optional(
      z.pipe(
        z.string().check(z.regex(/^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, "must be a hex colour such as 7c3aed")),
        z.transform((v: string) => {
          const hex = v.replace(/^#/, "").toLowerCase();
          return hex.length === 3 ? [...hex].map((ch) => ch + ch).join("") : hex;
        }),
      ),
    ),
    hide: z.optional(commaListSchema(WIDGET_HIDE)),
  }),
  z.transform((q) => ({
    theme: q.theme,
    size: q.size,
    accent: q.accent,
    hide: new Set((q.hide?.split(",") ?? []) as HideField[]),
  })),
);

export type WidgetOptions = z.output<typeof widgetQuerySchema>;

/** Canonical text of the options, for ETags and memo keys. */
export function optionsKey(o: WidgetOptions): string {
  // Options objects are memoised and never changed (routes/card-data.ts): their text is kept,
  // since a card from memory asks for it on every view.
  let key = optionsKeys.get(o);
  if (key === undefined) {
    key = `${o.theme}|${o.size}|${o.accent ?? ""}|${[...o.hide].sort().join(",")}`;
    optionsKeys.set(o, key);
  }
  return key;
}
const optionsKeys = new WeakMap<WidgetOptions, string>();

/**
 * The options as a query string ("" or "?theme=dark&size=compact"), defaults left out, in a
 * fixed order: the canonical URL of a card with these options.
 */
export function optionsQuery(o: WidgetOptions): string {
  const params: [string, string][] = [];
  if (o.theme !== "auto") params.push(["theme", o.theme]);
  if (o.size !== "standard") params.push(["size", o.size]);
  if (o.accent) params.push(["accent", o.accent]);
  if (o.hide.size) params.push(["hide", [...o.hide].sort().join(",")]);
  return params.length ? `?${new URLSearchParams(params).toString().replaceAll("%2C", ",")}` : "";
}

/** PNG previews are at most this wide (Open Graph's recommended size), and at least 200. */
export const PNG_MAX_WIDTH = 1200;
export const PNG_MIN_WIDTH = 200;

/**
 * What a PNG card is drawn for: a link preview (1200 x 630, or `width` wide at the same
 * 1.91:1, for oEmbed thumbnails that must fit a consumer's maxwidth) or the card's own size.
 */
export const pngQuerySchema = z
  .object({
    layout: z._default(z.enum(["og", "card"]), "og"),
    width: z.optional(
      z
        .pipe(z.string().check(z.regex(/^[0-9]{3,4}$/, "must be a whole number of pixels")), z.transform(Number))
        .check(
          z.refine((n) => n >= PNG_MIN_WIDTH && n <= PNG_MAX_WIDTH, `must be ${PNG_MIN_WIDTH} to ${PNG_MAX_WIDTH}`),
        ),
    ),
  })
  .check(
    z.refine((q) => q.width === undefined || q.layout === "og", {
      message: "applies to layout=og only",
      path: ["width"],
    }),
  );
