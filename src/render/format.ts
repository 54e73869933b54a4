import type { TrackSummary } from "../schemas/entities";

/** Short, human labels for the facts a card shows. Unknown values pass through unchanged. */

const LICENCES: Record<string, string> = {
  both: "Lease or exclusive",
  non_exclusive: "Lease",
  exclusive: "Exclusive",
};

export function licenceLabel(t: Pick<TrackSummary, "licensing_type" | "exclusive_status">): string | undefined {
  if (!t.licensing_type) return undefined;
  const base = LICENCES[t.licensing_type] ?? t.licensing_type.replace(/_/g, " ");
  return t.exclusive_status === "sold" ? `${base} (exclusive sold)` : base;
}

export function priceLabel(price: number | null | undefined, currency: string | null | undefined): string | undefined {
  if (price === null || price === undefined) return undefined;
  const code = currency && /^[A-Z]{3}$/.test(currency) ? currency : "USD";
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: code }).format(price);
  } catch {
    return `${price.toFixed(2)} ${code}`;
  }
}

export function keyLabel(key: string | null | undefined, scale: string | null | undefined): string | undefined {
  if (!key) return undefined;
  return scale ? `${key} ${scale}` : key;
}

export function durationLabel(t: Pick<TrackSummary, "duration" | "duration_text">): string | undefined {
  if (t.duration_text) return t.duration_text;
  if (!t.duration) return undefined;
  const s = Math.round(t.duration / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function artistNames(t: Pick<TrackSummary, "artists">): string {
  return (t.artists ?? []).map((a) => a.name).join(", ");
}

/** "23 tracks": BeatPass's total when it gave one (a first page may hold only 20). */
export function trackCount(item: { tracks?: readonly unknown[] | null; tracks_total?: number }): string | undefined {
  const n = Math.max(item.tracks_total ?? 0, item.tracks?.length ?? 0);
  return n ? `${n} track${n === 1 ? "" : "s"}` : undefined;
}

const DATE = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });

/** "Nov 20, 2025" from BeatPass's "2025-11-20" (or a timestamp starting so); else nothing. */
export function dateLabel(raw: string | null | undefined): string | undefined {
  const m = raw ? /^(\d{4})-(\d{2})-(\d{2})/.exec(raw) : null;
  if (!m) return undefined;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  // Date.UTC rolls 2025-02-31 over to March: such a date is not one.
  return date.getUTCDate() === Number(m[3]) ? DATE.format(date) : undefined;
}
