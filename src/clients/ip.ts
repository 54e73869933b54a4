import { stringBytes } from "../lib/byte-lru";
import { memo } from "../lib/memo-budget";

/**
 * The limit key of an anonymous client: its IPv4 address, or its IPv6 /64. One subscriber
 * line or host usually gets a whole /64 (2^64 addresses), so keying on the full IPv6 address
 * would give one client as many separate limits as it cares to use addresses.
 *
 * Spellings of one address give one key: `::` is expanded, hex is lowercased and leading
 * zeros dropped, and an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is its IPv4 address.
 * Anything unparseable (CF-Connecting-IP is set by Cloudflare, so only a misconfigured
 * front proxy sends that) keys on its own lowercased text, as before.
 */

/** The key for a request without CF-Connecting-IP (local tools, tests). */
export const UNKNOWN_IP_KEY = "ip:unknown";
const MAX_RAW_KEY = 64;

// Every /v1 request parses its address (3 µs of regexes and splits in a workerd profile of a
// memory hit); a client usually sends many requests, so recent answers are kept.
const recent = memo<string>("ip-keys", { sizeOf: (key) => stringBytes(key) });

export function ipLimitKey(raw: string | undefined | null): string {
  if (raw === undefined || raw === null) return UNKNOWN_IP_KEY;
  // How Cloudflare writes an IPv4 client: already its own key, with no memo entry to make (a
  // flood from many addresses would otherwise make one per request).
  if (CANONICAL_IPV4.test(raw)) return `ip:${raw}`;
  // The same for IPv6 written as RFC 5952 has it (lowercase, no leading zeros) with its /64
  // spelled out: the key is that text (parsing and a memo entry were about 5 µs a new address).
  const v6 = CANONICAL_IPV6_64.exec(raw);
  if (v6) return `ip:${v6[1]}::/64`;
  let key = recent.get(raw);
  if (key === undefined) {
    key = parseLimitKey(raw);
    recent.set(raw, key);
  }
  return key;
}

function parseLimitKey(raw: string): string {
  const text = raw.trim().toLowerCase();
  if (text === "") return UNKNOWN_IP_KEY;
  const v4 = parseIpv4(text);
  if (v4) return `ip:${v4}`;
  const v6 = parseIpv6(text);
  if (v6) {
    const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = v6;
    // ::ffff:a.b.c.d (RFC 4291 2.5.5.2) is an IPv4 client.
    if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff)
      return `ip:${g6 >> 8}.${g6 & 255}.${g7 >> 8}.${g7 & 255}`;
    return `ip:${[g0, g1, g2, g3].map((g = 0) => g.toString(16)).join(":")}::/64`;
  }
  return `ip:?${text.slice(0, MAX_RAW_KEY)}`;
}

// Dotted-quad IPv4 in canonical form: each octet 0-255 without leading zeros (some parsers
// read those as octal), as Cloudflare writes CF-Connecting-IP.
const CANONICAL_IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

// An IPv6 address whose first four groups are written out, each in its shortest lowercase
// form, the first not 0 (so never an IPv4-mapped address), followed by four more groups or by
// at most three around one "::": group 1 is its /64 as parseIpv6 and parseLimitKey spell it.
const G = "(?:0|[1-9a-f][0-9a-f]{0,3})";
const CANONICAL_IPV6_64 = new RegExp(
  `^([1-9a-f][0-9a-f]{0,3}:${G}:${G}:${G}):(?:${G}:${G}:${G}:${G}|:(?:${G}(?::${G}){0,2})?|${G}::(?:${G}(?::${G})?)?|${G}:${G}::(?:${G})?|${G}:${G}:${G}::)$`,
);

/** `text` when it is a canonical dotted-quad IPv4 address, else undefined. */
function parseIpv4(text: string): string | undefined {
  return CANONICAL_IPV4.test(text) ? text : undefined;
}

const HEXTET = /^[0-9a-f]{1,4}$/;

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted quad), or undefined. */
function parseIpv6(text: string): number[] | undefined {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) return undefined;

  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups = (parts: string[], last: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? "";
      if (last && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else if (HEXTET.test(p)) {
        out.push(Number.parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const h = groups(head, halves.length === 1);
  const t = groups(tail, true);
  if (!h || !t) return undefined;
  if (halves.length === 1) return h.length === 8 ? h : undefined;
  // "::" stands for at least one zero group.
  const missing = 8 - h.length - t.length;
  if (missing < 1) return undefined;
  return [...h, ...Array<number>(missing).fill(0), ...t];
}
