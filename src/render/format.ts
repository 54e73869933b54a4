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
