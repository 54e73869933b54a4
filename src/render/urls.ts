import { slugify } from "./escape";

/** Where BeatPass's own pages live; cards link there (never to audio, which the API hides). */
export const BEATPASS_WEB_ORIGIN = "https://beatpass.ca";

export type EntityKind = "track" | "artist" | "album" | "playlist";

/** The public BeatPass page of an entity, e.g. https://beatpass.ca/track/3629/zoom. */
export function beatpassPageUrl(kind: EntityKind, id: number, name: string): string {
  return `${BEATPASS_WEB_ORIGIN}/${kind}/${id}/${slugify(name)}`;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Returns the URL if it may appear in a widget: https on an allowlisted host (`host`,
 * `host:port` or `*.domain`), or plain http to a loopback host on the list (the local fake).
 * Anything else (javascript:, data:, other hosts, credentials) yields undefined.
 */
export function allowedUrl(raw: string | null | undefined, hosts: readonly string[]): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  const secure = url.protocol === "https:";
  const localHttp = url.protocol === "http:" && LOOPBACK.has(url.hostname);
  if (!secure && !localHttp) return undefined;
  const ok = hosts.some((h) => {
    if (h.startsWith("*.")) return url.hostname.endsWith(h.slice(1)) && !url.port;
    return h.includes(":") ? url.host === h : url.hostname === h && !url.port;
  });
  return ok ? url.href : undefined;
}

/** CSP source expressions for the allowlisted image hosts. */
export function cspSources(hosts: readonly string[]): string {
  return hosts
    .map((h) => {
      const hostname = h.replace(/:\d+$/, "");
      return LOOPBACK.has(hostname) ? `http://${h}` : `https://${h}`;
    })
    .join(" ");
}
