import { getOrLoad, type Served } from "../cache/engine";
import { cacheKey } from "../cache/keys";
import type { FamilyPolicy } from "../cache/policy";
import type { TierDeps } from "../cache/tiers";
import type { AppEnv, Config } from "../env";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { logEvent } from "../lib/log";
import { memo } from "../lib/memo-budget";
import type { Client, Trace } from "../lib/trace";
import { artistCard, type Card, type CardContext, collectionCard, trackCard } from "../render/html-card";
import { artistSvg, collectionSvg, type SvgRender, trackSvg } from "../render/svg-card";
import { allowedUrl, type EntityKind } from "../render/urls";
import type { Album, Artist, Playlist, Track, Wave } from "../schemas/entities";
import { type WidgetOptions, widgetQuerySchema } from "../schemas/widget";
import { fetchImageDataUri } from "../upstream/images";
import { memoryRead, readThrough } from "./catalog";
import { pickParams, rawValues, schemaKeys } from "./params";

/**
 * What a card is drawn from, for every kind: the reads (through the same cache engine as the
 * JSON routes, so a cached card costs no upstream request and one fetch serves every theme
 * and size) and the drawing functions over their data. The widget route draws from it and
 * oEmbed sizes its frames from it, so both see the same data and the same layout.
 */

export interface CardView {
  /** What the card depends on besides the options: data ETags. */
  etagParts: string[];
  primary: Served;
  policy: FamilyPolicy;
  /** The entity the card shows. */
  data: unknown;
  /** The HTML card, with the request's options unless others are given (oEmbed tries sizes). */
  html: (options?: WidgetOptions) => Card;
  svg: (art: string | undefined, r: SvgRender) => string;
  /** Artwork for the SVG, fetched only for SVG and PNG. */
  artUrl?: string | null;
}

export interface LoadContext {
  config: Config;
  env: AppEnv["Bindings"];
  deps: TierDeps;
  options: WidgetOptions;
  trace: Trace;
  client: Client;
}

/** One read a card makes: a catalog route and its raw parameters; `optional`: the card does without it. */
interface CardRead {
  name: string;
  raw: Record<string, string>;
  optional?: true;
}
type Read = { data: unknown; served: Served };

/** Per kind: the reads a card makes, in order, and the view over their results (undefined: an optional read failed). */
const CARDS: Record<
  EntityKind,
  {
    reads: (id: string, l: LoadContext, need: { wave: boolean }) => CardRead[];
    view: (results: (Read | undefined)[], l: LoadContext) => CardView;
  }
> = {
  track: {
    // The track first: for an id BeatPass does not have, the waveform is never asked for
    // (one upstream request per missing track, not two). The waveform is decoration: a card
    // without it beats no card, and its row is drawn either way (the height does not change).
    reads: (id, l, need) => [
      { name: "track", raw: { id } },
      ...(need.wave && !l.options.hide.has("waveform")
        ? [{ name: "track-wave", raw: { id }, optional: true as const }]
        : []),
    ],
    view: ([track, wave], l) => {
      const served = (track as Read).served;
      const t = (track as Read).data as Track;
      const w = wave?.data as Wave | undefined;
      return {
        etagParts: [served.entry.etag, wave?.served.entry.etag ?? "-"],
        primary: served,
        policy: l.config.policy.entity,
        data: t,
        html: (o) => trackCard(t, w, context(l, o)),
        svg: (art, r) => trackSvg(t, w, art, l.options, r),
        artUrl: t.image,
      };
    },
  },
  artist: {
    reads: (id) => [{ name: "artist", raw: { id, with: "genres,topTracks" } }],
    view: ([r], l) =>
      entityView<Artist>(r as Read, l, {
        html: (a, ctx) => artistCard(a, ctx),
        svg: (a, art, r) => artistSvg(a, art, l.options, r),
        art: (a) => a.image_small,
      }),
  },
  album: {
    reads: (id) => [{ name: "album", raw: { id, with: "artists,tracks" } }],
    view: ([r], l) =>
      entityView<Album>(r as Read, l, {
        html: (a, ctx) => collectionCard("album", a, ctx),
        svg: (a, art, r) => collectionSvg("album", a, art, l.options, r),
        art: (a) => a.image,
      }),
  },
  playlist: {
    reads: (id) => [{ name: "playlist", raw: { id } }],
    view: ([r], l) =>
      entityView<Playlist>(r as Read, l, {
        html: (p, ctx) => collectionCard("playlist", p, ctx),
        svg: (p, art, r) => collectionSvg("playlist", p, art, l.options, r),
        art: (p) => p.image,
      }),
  },
};

export const isKind = (k: string): k is EntityKind => Object.hasOwn(CARDS, k);

/**
 * Reads what the card of `kind` `id` shows, one read after another (a failed read stops the
 * rest, unless it is optional). `wave: false` skips the waveform (its row has a fixed height,
 * so sizing a frame does not need it).
 */
export async function loadCard(kind: EntityKind, id: number, l: LoadContext, need = { wave: true }): Promise<CardView> {
  const card = CARDS[kind];
  const results: (Read | undefined)[] = [];
  for (const r of card.reads(String(id), l, need)) {
    const read = readThrough(r.name, r.raw, `${kind} ${id}`, l.config, l.env, l.deps, l.trace, l.client);
    results.push(r.optional ? await read.catch(() => undefined) : await read);
  }
  return card.view(results, l);
}

/**
 * `loadCard`'s view when every read the card makes is a copy in this isolate's memory of
 * parameters its route validated before (for the hit lane, src/routes/hit-lane.ts), with
 * nothing counted until `take`; undefined otherwise, with nothing done. `id` is the text as
 * the request has it: the card routes validate ids with the catalog routes' own schema, whose
 * valid ids are their canonical digits, so one its route has not validated is not known here.
 */
export function memoryCard(kind: EntityKind, id: string, l: LoadContext): { view: CardView; take(): void } | undefined {
  const card = CARDS[kind];
  const hits: NonNullable<ReturnType<typeof memoryRead>>[] = [];
  for (const r of card.reads(id, l, { wave: true })) {
    const hit = memoryRead(r.name, r.raw, l.config, l.env, l.deps, l.trace, l.client);
    if (!hit) return undefined;
    hits.push(hit);
  }
  return {
    view: card.view(hits, l),
    take() {
      for (const hit of hits) hit.take();
    },
  };
}

const context = (l: LoadContext, options = l.options): CardContext => ({ options, imageHosts: l.config.imageHosts });

/** A card drawn from a single entity read (artist, album, playlist). */
function entityView<T>(
  r: Read,
  l: LoadContext,
  draw: {
    html: (data: T, ctx: CardContext) => Card;
    svg: (data: T, art: string | undefined, r: SvgRender) => string;
    art?: (data: T) => string | null | undefined;
  },
): CardView {
  const data = r.data as T;
  return {
    etagParts: [r.served.entry.etag],
    primary: r.served,
    policy: l.config.policy.entity,
    data,
    html: (o) => draw.html(data, context(l, o)),
    svg: (art, r) => draw.svg(data, art, r),
    artUrl: draw.art?.(data),
  };
}

/** The card's artwork as a data: URI, through the cache; missing or failing art is left out. */
export async function artwork(
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

// Validated options by the raw values of the parameters the schema reads: a popular embed's
// options are parsed once, and junk parameters make no new entries. Only valid input is
// stored, and the schema keeps valid values short, so keys stay short.
const WIDGET_PARAMS = schemaKeys(widgetQuerySchema);
const optionsMemo = memo<WidgetOptions>("widget-options", {
  // The options object, its Set and the Set's table; their strings are about the key's text.
  sizeOf: (_o, key) => stringBytes(key) + 3 * SMALL_OBJECT_BYTES,
});
export function widgetOptions(query: Record<string, string>): WidgetOptions {
  const key = rawValues(query, WIDGET_PARAMS);
  let options = optionsMemo.get(key);
  if (!options) {
    options = validate("query", widgetQuerySchema, pickParams(query, WIDGET_PARAMS));
    optionsMemo.set(key, options);
  }
  return options;
}

/** Options validated before for these parameters, or undefined (the hit lane validates nothing). */
export function knownWidgetOptions(query: Record<string, string>): WidgetOptions | undefined {
  return optionsMemo.get(rawValues(query, WIDGET_PARAMS));
}
