import type { Config } from "../env";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { secondRequestMemo } from "../lib/memo-budget";
import type { PngLayout } from "../render/png";
import type { EntityKind } from "../render/urls";
import { optionsKey } from "../schemas/widget";
import type { CardView, LoadContext } from "./card-data";
import type { Format } from "./widget-headers";

/**
 * Where drawn cards are kept, and what a drawing is keyed by. Split from widgets.ts, which
 * draws and serves them (the app's way and the hit lane's): both look drawings up here.
 */

/** Bump when the markup changes, so browsers do not keep a 304 for an old design. */
export const RENDER_VERSION = "3";

/** A card as asked for: what to draw, in which format. */
export interface Target {
  kind: EntityKind;
  id: number;
  format: Format;
  layout: PngLayout;
  /** A link preview's width, when not the full 1200. */
  width: number | undefined;
}

/** Everything a card's bytes depend on: the same input always renders the same bytes. */
export function renderInput(
  origin: string,
  t: Target,
  view: CardView,
  l: LoadContext,
  artEtag: string | undefined,
): string {
  return [
    RENDER_VERSION,
    origin,
    t.kind,
    t.format,
    t.format === "png" ? `${t.layout}:${t.width ?? ""}` : "",
    optionsKey(l.options),
    ...view.etagParts,
    artEtag ?? "-",
    configPart(l.config),
  ].join("|");
}

// Config the card depends on (its CSP, and which artwork it may show), once per config.
const configParts = new WeakMap<Config, string>();
function configPart(config: Config): string {
  let part = configParts.get(config);
  if (part === undefined) {
    part = `${config.frameAncestors}|${config.imageHosts.join(",")}`;
    configParts.set(config, part);
  }
  return part;
}

/**
 * Rendered cards by their inputs (normalized options, data ETags, config; never the URL), and
 * error cards by what they show: a hot card is rendered once, not once per view. A new entry
 * waits in probation until its second request (lib/doorkeeper.ts), so random options, each
 * asked for once, churn probation only and never push out the cards viewers keep asking for.
 * An entry holds the ETag and the body's bytes (an SVG card inlines its artwork).
 */
export type Rendered = { etag: string; body: Uint8Array };
export const renderMemo = secondRequestMemo<Rendered>("cards", {
  probationBytes: 2 * 1024 * 1024,
  // 16 KiB: two generations of 4,096 keys, under 1% false positives (lib/doorkeeper.ts).
  doorkeeperBits: 65_536,
  doorkeeperCapacity: 4096,
  sizeOf: (r) => SMALL_OBJECT_BYTES + stringBytes(r.etag) + r.body.byteLength,
});

const encoder = new TextEncoder();

/**
 * A drawing as the memo keeps it: markup encoded once, so that a card from memory hands the
 * runtime bytes to copy rather than text to encode on every view (4% of an HTML card hit's
 * throughput straight from workerd's socket, bench/HISTORY.md run 29).
 */
export const kept = (body: string | Uint8Array): Uint8Array => (typeof body === "string" ? encoder.encode(body) : body);
