import { z } from "zod";
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

export const widgetQuerySchema = z
  .object({
    theme: z.enum(["light", "dark", "auto"]).default("auto"),
    size: z.enum(["compact", "standard"]).default("standard"),
    // A hex colour and nothing else: it is the only value that reaches CSS.
    accent: z
      .string()
      .regex(/^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, "must be a hex colour such as 7c3aed")
      .transform((v) => {
        const hex = v.replace(/^#/, "").toLowerCase();
        return hex.length === 3 ? [...hex].map((ch) => ch + ch).join("") : hex;
      })
      .optional(),
    hide: commaListSchema(WIDGET_HIDE).optional(),
  })
  .transform((q) => ({
    theme: q.theme,
    size: q.size,
    accent: q.accent,
    hide: new Set((q.hide?.split(",") ?? []) as HideField[]),
  }));

export type WidgetOptions = z.output<typeof widgetQuerySchema>;

/** Canonical text of the options, for ETags and memo keys. */
export function optionsKey(o: WidgetOptions): string {
  return `${o.theme}|${o.size}|${o.accent ?? ""}|${[...o.hide].sort().join(",")}`;
}
