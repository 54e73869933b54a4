import { describe, expect, it } from "vitest";
import { DOCUMENTED_LIMITS } from "../helpers/documented";
import { createKey, randomKey } from "../helpers/keys";
import { kvCountingReads, kvFailingReads } from "../helpers/kv";
import { type Called, call, expectProblem } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";
import { inOneWindow } from "../helpers/window";

/**
 * Per-client limits against the real Workers Rate Limiting bindings (miniflare's). Their
 * windows are aligned to the wall-clock minute and roll over for every client at once, so
 * each test uses clients of its own (CF-Connecting-IP values no other file uses), and a burst
 * that crossed a minute boundary is run again with new clients (inOneWindow,
 * helpers/window.ts). Whatever a test asserts about a client's window is asked inside the
 * burst: after it, the window may roll over at any moment.
 */

const ANON = DOCUMENTED_LIMITS.anon;
const ANON_POLICY = `"anon";q=${ANON.limit};w=${ANON.periodSeconds}`;
const OEMBED = "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F1";

let clients = 0;
/** A client IP used by no other test (TEST-NET-1, which the rest of the suite leaves alone). */
const newClient = () => `192.0.2.${++clients}`;

let prefixes = 0;
/** A /64 used by no other test (2001:db8::/32 is for documentation), as its first four hextets. */
const newPrefix = () => `2001:db8:${(++prefixes).toString(16)}:64`;

/** Ten addresses of one /64, written the ways clients and proxies write them. */
function tenAddresses(prefix: string): string[] {
  const groups = prefix.split(":");
  const padded = groups.map((g) => g.padStart(4, "0")).join(":");
  return [
    `${prefix}::1`,
    `${prefix.toUpperCase()}::2`,
    `${padded}:0000:0000:0000:0003`,
    `${prefix}:ffff:ffff:ffff:ffff`,
    `${prefix}:1234::`,
    `${prefix}:0:0:0:6`,
    ` ${prefix}::7 `,
    `${prefix}:a:b:c:d`,
    `${padded.toUpperCase()}::9`,
    `${prefix}::ABCD:10`,
  ];
}

interface Burst<T> {
  ip: string;
  /** Statuses of the first `limit` requests. */
  within: number[];
  /** The request just past the limit. */
  past: Called;
  /** What `after` returned. */
  after: T;
}

/**
 * `limit` requests from one new client spread over `paths` in turn, then one more to the
 * first path; then `after(ip)`, still inside the same window.
 */
async function burstPastLimit<T = undefined>(
  paths: string[],
  after: (ip: string) => Promise<T> = async () => undefined as T,
): Promise<Burst<T>> {
  return inOneWindow(async () => {
    const client = newClient();
    const within: number[] = [];
    for (let i = 0; i < ANON.limit; i++) {
      within.push((await call(paths[i % paths.length] ?? "", { headers: { "CF-Connecting-IP": client } })).status);
    }
    const past = await call(paths[0] ?? "", { headers: { "CF-Connecting-IP": client } });
    return { ip: client, within, past, after: await after(client) };
  });
}

function expectRateLimited(res: Called): void {
  expectProblem(res, 429, "rate_limited");
  expect(res.headers.get("Retry-After")).toBe(String(ANON.periodSeconds));
  expect(res.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
  expect(res.headers.get("RateLimit")).toBe(`"anon";r=0;t=${ANON.periodSeconds}`);
}

describe("per-client rate limits", () => {
  // Each of these makes 121+ requests (well under a second each on an idle machine).
  const BUDGET_MS = 120_000;

  // Cards are not counted per request (only their misses are): widgets.test.ts, "per-IP limits".
  it.each([
    ["/v1/*", "/v1/genres"],
    ["/oembed", OEMBED],
  ])(
    "%s: an anonymous client gets 120 answers a minute, then 429 rate_limited with Retry-After 60; another client is unaffected",
    async (_family, path) => {
      const { within, past } = await burstPastLimit([path]);
      expect(within).toEqual(Array(ANON.limit).fill(200));
      expectRateLimited(past);

      const other = await call(path, { headers: { "CF-Connecting-IP": newClient() } });
      expect(other.status).toBe(200);
      expect(other.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
    },
    BUDGET_MS,
  );

  it(
    "one client's budget is shared by /v1 and /oembed: past 120 in all, each refuses it; its cached cards still show",
    async () => {
      const card = await call("/widget/track/1");
      expect(card.status).toBe(200);
      const { ip, within, past, after } = await burstPastLimit(["/v1/genres", OEMBED], (ip) =>
        call(OEMBED, { headers: { "CF-Connecting-IP": ip } }),
      );
      expect(within).toEqual(Array(ANON.limit).fill(200));
      expectRateLimited(past);
      expectRateLimited(after);
      const again = await call("/widget/track/1", { headers: { "CF-Connecting-IP": ip } });
      expect([again.status, again.headers.get("X-Problem-Code")]).toEqual([200, null]);
      expect(again.text).toBe(card.text);
    },
    BUDGET_MS,
  );

  it(
    "a limited client with an API key counts against the key, not its IP, and gets the key's tier, once the key has been accepted",
    async () => {
      const key = await createKey();
      // A key this isolate has not accepted yet is checked at the IP's expense: refused with
      // the IP, before any KV read.
      const { ip, past, after } = await burstPastLimit(["/v1/genres"], async (ip) => {
        const { kv, reads } = kvCountingReads();
        const unchecked = await call(
          "/v1/genres",
          { headers: { "CF-Connecting-IP": ip, "X-Api-Key": key } },
          { BEATPASS_CACHE: kv },
        );
        return { unchecked, reads };
      });
      expectRateLimited(past);
      expectRateLimited(after.unchecked);
      expect(after.reads).toEqual([]);
      // Accepted once (from an address within its limit), the key is the client from then on.
      const { limit, periodSeconds } = DOCUMENTED_LIMITS.standard;
      for (const from of [newClient(), ip]) {
        const keyed = await call("/v1/genres", { headers: { "CF-Connecting-IP": from, "X-Api-Key": key } });
        expect(keyed.status).toBe(200);
        expect(keyed.headers.get("RateLimit-Policy")).toBe(`"standard";q=${limit};w=${periodSeconds}`);
      }
      // One shared cache: every one of those requests but the first was answered without BeatPass.
      expect(upstreamPaths()).toEqual(["/genres"]);
    },
    BUDGET_MS,
  );

  it(
    "a key whose lookup fails (KV unreadable) is served as anonymous and charged to its IP once",
    async () => {
      const key = await createKey({ tier: "partner" });
      const { answers } = await inOneWindow(async () => {
        const ip = newClient();
        const headers = { "CF-Connecting-IP": ip };
        const answers: Called[] = [];
        for (let i = 0; i < ANON.limit - 1; i++) answers.push(await call("/v1/genres", { headers }));
        answers.push(
          await call("/v1/genres", { headers: { ...headers, "X-Api-Key": key } }, { BEATPASS_CACHE: kvFailingReads() }),
        );
        answers.push(await call("/v1/genres", { headers }));
        return { answers };
      });
      expect(answers.slice(0, ANON.limit).map((r) => r.status)).toEqual(Array(ANON.limit).fill(200));
      expect(answers[ANON.limit - 1]?.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
      expectRateLimited(answers[ANON.limit]!);
    },
    BUDGET_MS,
  );

  it(
    "anonymous IPv6 clients are limited per /64: 600 requests from 10 addresses of one /64 get 120 answers; the next /64 is unaffected",
    async () => {
      const { prefix, statuses, refused } = await inOneWindow(async () => {
        const prefix = newPrefix();
        const addresses = tenAddresses(prefix);
        const statuses: number[] = [];
        const refused: Called[] = [];
        for (let i = 0; i < 600; i++) {
          const res = await call("/v1/genres", { headers: { "CF-Connecting-IP": addresses[i % 10] ?? "" } });
          statuses.push(res.status);
          if (res.status !== 200) refused.push(res);
        }
        return { prefix, statuses, refused };
      });
      expect(statuses.slice(0, ANON.limit)).toEqual(Array(ANON.limit).fill(200));
      expect(refused).toHaveLength(600 - ANON.limit);
      for (const res of refused) expectRateLimited(res);

      const [a, b, c] = prefix.split(":");
      const next = `${a}:${b}:${c}:65::1`;
      const other = await call("/v1/genres", { headers: { "CF-Connecting-IP": next } });
      expect(other.status).toBe(200);
      expect(other.headers.get("RateLimit-Policy")).toBe(ANON_POLICY);
    },
    // 601 requests (a few seconds on an idle machine).
    4 * BUDGET_MS,
  );

  it(
    "an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the same client as its IPv4 address",
    async () => {
      const { past, after } = await burstPastLimit(["/v1/genres"], async (ip) => {
        const answers: Called[] = [];
        for (const mapped of [`::ffff:${ip}`, `::FFFF:${ip}`, `0:0:0:0:0:ffff:${ip}`])
          answers.push(await call("/v1/genres", { headers: { "CF-Connecting-IP": mapped } }));
        return answers;
      });
      expectRateLimited(past);
      expect(after).toHaveLength(3);
      for (const res of after) expectRateLimited(res);
    },
    BUDGET_MS,
  );

  it(
    "invalid API keys count against the caller's IP: 300 random keys from one IP get 401 up to its limit, then 429, with at most one KV read each for the first 120",
    async () => {
      const { statuses, answers, reads } = await inOneWindow(async () => {
        const ip = newClient();
        const { kv, reads } = kvCountingReads();
        const answers: Called[] = [];
        for (let i = 0; i < 300; i++) {
          answers.push(
            await call(
              "/v1/genres",
              { headers: { "CF-Connecting-IP": ip, "X-Api-Key": randomKey() } },
              { BEATPASS_CACHE: kv },
            ),
          );
        }
        return { statuses: answers.map((r) => r.status), answers, reads };
      });
      expect(statuses).toEqual([...Array(ANON.limit).fill(401), ...Array(300 - ANON.limit).fill(429)]);
      for (const res of answers.slice(0, ANON.limit)) expectProblem(res, 401, "invalid_api_key");
      for (const res of answers.slice(ANON.limit)) expectRateLimited(res);
      expect(reads.length).toBeLessThanOrEqual(ANON.limit);
      expect(upstreamPaths()).toEqual([]);
    },
    // 300 requests (a few seconds on an idle machine).
    2 * BUDGET_MS,
  );

  it(
    "runs unlimited where no binding is configured: even a client past its limit is answered",
    async () => {
      const { ip, past } = await burstPastLimit(["/v1/genres"]);
      expectRateLimited(past);
      const unbound = await call("/v1/genres", { headers: { "CF-Connecting-IP": ip } }, { RATE_LIMIT_ANON: undefined });
      expect(unbound.status).toBe(200);
    },
    BUDGET_MS,
  );
});
