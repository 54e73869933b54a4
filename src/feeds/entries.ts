import {
  artistNames,
  dateLabel,
  durationLabel,
  keyLabel,
  licenceLabel,
  priceLabel,
  trackCount,
} from "../render/format";
import { allowedUrl, BEATPASS_WEB_ORIGIN, beatpassPageUrl } from "../render/urls";
import type { Album, ArtistRef, TrackSummary } from "../schemas/entities";

/**
 * A feed entry, whatever the format: built from the public projection (schemas/entities.ts)
 * only, so a feed carries exactly what /v1 serves. Strings here are still raw text; the
 * format's writer escapes them (render/feed-xml.ts, render/feed-json.ts).
 */
export interface FeedEntry {
  /** Stable: the BeatPass URL without its slug, so a renamed beat is not a new entry. */
  id: string;
  kind: "track" | "album";
  title: string;
  /** The BeatPass page (with its slug, as BeatPass links it). */
  url: string;
  /** When BeatPass says it was made (created_at / release_date), else when the proxy first saw it. */
  date: number;
  /** Whether `date` is BeatPass's own; an undated entry's comes from the feed's first-seen record (feeds/seen.ts). */
  dated: boolean;
  summary: string;
  /** Artwork on an allowed image host, if any. */
  image?: string;
  /** The entry's PNG card on this proxy. */
  card: string;
  authors: { name: string; url: string }[];
}

/** A feed holds at most this many entries (and asks BeatPass for pages of this size). */
export const MAX_ENTRIES = 50;

// ISO 8601 as Laravel sends it ("2025-11-20", "2025-11-20T10:00:00.000000Z", "2025-11-20 10:00:00").
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * BeatPass's timestamp as epoch milliseconds, or undefined for anything that is not a real
 * date (a rolled-over 2025-02-31 included): such an entry is dated by its first sighting
 * instead, never by the request's time. A time without a zone is taken as UTC (Laravel's default).
 */
export function parseDate(raw: string | null | undefined): number | undefined {
  const m = raw ? DATE.exec(raw.trim()) : null;
  if (!m) return undefined;
  const [y, mo, d, h = "0", mi = "0", s = "0"] = m.slice(1, 7).map((v) => v ?? undefined) as string[];
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(utc);
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const zone = m[7];
  if (!zone || zone === "Z") return utc;
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!z) return undefined;
  const offset = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  return z[1] === "+" ? utc - offset : utc + offset;
}

const stableId = (kind: string, id: number) => `${BEATPASS_WEB_ORIGIN}/${kind}/${id}`;

function authors(artists: readonly ArtistRef[] | null | undefined) {
  return (artists ?? []).map((a) => ({ name: a.name, url: beatpassPageUrl("artist", a.id, a.name) }));
}

/** What a person reads under the title: "Nova Keys · 140 BPM · F# minor · 2:31 · $24.99 · Lease". */
function join(parts: (string | undefined)[]): string {
  return parts.filter((p): p is string => Boolean(p)).join(" · ");
}

export interface EntryContext {
  origin: string;
  imageHosts: readonly string[];
}

export function trackEntry(t: TrackSummary, ctx: EntryContext): Omit<FeedEntry, "date" | "dated"> & { raw?: number } {
  return {
    id: stableId("track", t.id),
    kind: "track",
    title: t.name,
    url: beatpassPageUrl("track", t.id, t.name),
    raw: parseDate(t.created_at) ?? parseDate(t.release_date),
    summary: join([
      artistNames(t) || undefined,
      t.bpm ? `${t.bpm} BPM` : undefined,
      keyLabel(t.key, t.scale),
      durationLabel(t),
      priceLabel(t.price, t.currency),
      licenceLabel(t),
    ]),
    image: allowedUrl(t.image, ctx.imageHosts),
    card: `${ctx.origin}/widget/track/${t.id}.png`,
    authors: authors(t.artists),
  };
}

export function albumEntry(a: Album, ctx: EntryContext): Omit<FeedEntry, "date" | "dated"> & { raw?: number } {
  return {
    id: stableId("album", a.id),
    kind: "album",
    title: a.name,
    url: beatpassPageUrl("album", a.id, a.name),
    raw: parseDate(a.release_date) ?? parseDate(a.created_at),
    summary: join([
      "Album",
      artistNames(a) || undefined,
      a.release_date ? `released ${dateLabel(a.release_date) ?? ""}`.trim() : undefined,
      trackCount(a),
    ]),
    image: allowedUrl(a.image, ctx.imageHosts),
    card: `${ctx.origin}/widget/album/${a.id}.png`,
    authors: authors(a.artists),
  };
}

export type Candidate = ReturnType<typeof trackEntry>;

/**
 * Newest first, at most MAX_ENTRIES. `firstSeen` gives undated entries their date. Ties keep
 * BeatPass's order, then the id decides, so the same data always makes the same feed.
 */
export function newestFirst(candidates: Candidate[], firstSeen: (id: string) => number): FeedEntry[] {
  const seen = new Set<string>();
  const entries: FeedEntry[] = [];
  for (const { raw, ...c } of candidates) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    entries.push({ ...c, date: raw ?? firstSeen(c.id), dated: raw !== undefined });
  }
  return entries
    .map((e, i) => ({ e, i }))
    .sort((x, y) => y.e.date - x.e.date || x.i - y.i)
    .slice(0, MAX_ENTRIES)
    .map(({ e }) => e);
}
