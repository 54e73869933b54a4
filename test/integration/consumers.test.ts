import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { Validator } from "@cfworker/json-schema";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/app";
import { resetPurges } from "../../src/cache/purge";
import { abandonCacheApiEntries, memory } from "../../src/cache/tiers";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { openApiFor, upToPattern } from "../../src/openapi";
import { REFERENCE_PATH, RENDERER_A11Y_PATH, RENDERER_PATH } from "../../src/render/docs-page";
import { resetSeenSignatures } from "../../src/routes/hooks";
import { keeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { CANARY_TOKEN } from "../helpers/constants";
import { DOCUMENTED_LIMITS, DOCUMENTED_MAX_PURGE_BODY_BYTES } from "../helpers/documented";
import { byTag, parse } from "../helpers/dom";
import { createKey, randomKey } from "../helpers/keys";
import { kvFailingReads } from "../helpers/kv";
import { hmac, SIGNATURE_HEADER, signedPurge } from "../helpers/purge";
import { call, checked, expectProblem, ORIGIN } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

const SECRET = "purge-secret-for-tests-0123456789abcdef";
// README, "Purge": the tolerance, written out rather than imported.
const TOLERANCE_SECONDS = 300;
// README, "API keys": "A revocation reaches every isolate within a minute."
const REVOCATION_DELAY_MS = 60_000;
// README, "Purge": other isolates see a purge "within about 5 s" (plus KV's propagation).
const PURGE_REACHES_OTHERS_MS = 5_000;
// README, "For API consumers": a caller's X-Request-Id is kept up to this length.
const MAX_REQUEST_ID = 64;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A purge request signed as README "Purge" describes (with SECRET unless told otherwise). */
const signed = (body: string, opts: { t?: number; secret?: string; header?: string } = {}) =>
  signedPurge(opts.secret ?? SECRET, body, opts);
const purge = (init: RequestInit, override: Partial<Env> = {}) =>
  call("/hooks/purge", init, { PURGE_WEBHOOK_SECRET: SECRET, ...override });
const purgeBody = (...resources: string[]) => JSON.stringify({ resources });

const requestLines = () => logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "request");

describe("CORS", () => {
  it("lets any origin read JSON routes, without credentials", async () => {
    for (const origin of ["https://blog.example", "null"]) {
      const res = await call("/v1/genres", { headers: { Origin: origin } });
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
      expect(res.headers.get("Access-Control-Expose-Headers")).toContain("ETag");
    }
  });

  it("answers a preflight with GET/HEAD and only the headers it reads, without touching BeatPass", async () => {
    const res = await call("/v1/tracks/1", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key, x-evil",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET,HEAD");
    expect(res.headers.get("Access-Control-Allow-Headers")).toBe("X-Api-Key,If-None-Match");
    expect(res.headers.get("Access-Control-Max-Age")).toBe("86400");
    expect(upstreamPaths()).toEqual([]);
  });

  it("in any-origin mode never sends Access-Control-Allow-Credentials, on a preflight or a simple request", async () => {
    for (const origin of ["https://app.example", "null"]) {
      const preflight = await call("/v1/tracks/1", {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "GET",
          "Access-Control-Request-Headers": "x-api-key",
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(preflight.headers.get("Access-Control-Allow-Credentials")).toBeNull();
      const simple = await call("/v1/tracks/1", { headers: { Origin: origin } });
      expect(simple.status).toBe(200);
      expect(simple.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(simple.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    }
  });

  it("with ALLOWED_ORIGINS, answers listed origins only, with Vary: Origin, and never 'null'", async () => {
    const allow = { ALLOWED_ORIGINS: "https://a.example, https://B.example" };
    const ok = await call("/v1/genres", { headers: { Origin: "https://b.example" } }, allow);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://b.example");
    expect(ok.headers.get("Vary")).toContain("Origin");
    for (const origin of ["https://evil.example", "null", "https://a.example.evil.com", "http://a.example"]) {
      const res = await call("/v1/genres", { headers: { Origin: origin } }, allow);
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(res.headers.get("Access-Control-Expose-Headers")).toBeNull();
      expect(res.headers.get("Vary")).toBe("Origin, X-Api-Key");
    }
    // Without an Origin (a server, or a cache filling itself) the answer still varies by it.
    expect((await call("/v1/genres", {}, allow)).headers.get("Vary")).toBe("Origin, X-Api-Key");
    const pre = await call(
      "/v1/genres",
      { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" } },
      allow,
    );
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(pre.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });

  // docs/configuration.md: ALLOWED_ORIGINS is a list of *exact* origins. A browser preflights
  // every request carrying X-Api-Key, so a preflight that let a lookalike through would hand
  // that site the keyed API. Scheme and host are case-insensitive in an origin (RFC 6454 §4),
  // so a listed origin written in capitals is still that origin; anything longer is another site.
  it("with ALLOWED_ORIGINS, preflights and simple requests let exactly the listed origins in, never a lookalike", async () => {
    const allow = { ALLOWED_ORIGINS: "https://app.example.com, https://B.example" };
    const preflight = (origin: string) =>
      call(
        "/v1/tracks/1",
        {
          method: "OPTIONS",
          headers: {
            Origin: origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
          },
        },
        allow,
      );
    const simple = (origin: string) => call("/v1/tracks/1", { headers: { Origin: origin } }, allow);

    for (const origin of [
      "https://app.example.com",
      "https://b.example",
      "HTTPS://APP.EXAMPLE.COM",
      "https://B.example",
    ]) {
      const pre = await preflight(origin);
      expect(pre.status, origin).toBe(204);
      expect(pre.headers.get("Access-Control-Allow-Origin"), origin).toBe(origin);
      expect(pre.headers.get("Access-Control-Allow-Methods"), origin).toBe("GET,HEAD");
      expect(pre.headers.get("Access-Control-Allow-Headers"), origin).toBe("X-Api-Key,If-None-Match");
      expect(pre.headers.get("Vary"), origin).toContain("Origin");
      const get = await simple(origin);
      expect(get.status, origin).toBe(200);
      expect(get.headers.get("Access-Control-Allow-Origin"), origin).toBe(origin);
    }
    for (const origin of [
      "https://app.example.com.evil.test",
      "https://app.example.community",
      "https://app.example.com:8443",
      "https://app.example.com.",
      "https://b.example.evil.test",
      "HTTPS://APP.EXAMPLE.COM.EVIL.TEST",
      "http://app.example.com",
      "https://evil.app.example.com",
      "https://app.example.co",
    ]) {
      const pre = await preflight(origin);
      expect(pre.headers.get("Access-Control-Allow-Origin"), `preflight from ${origin}`).toBeNull();
      expect(pre.headers.get("Access-Control-Allow-Credentials"), origin).toBeNull();
      expect(pre.headers.get("Vary"), origin).toContain("Origin");
      const get = await simple(origin);
      expect(get.status, origin).toBe(200);
      expect(get.headers.get("Access-Control-Allow-Origin"), `GET from ${origin}`).toBeNull();
      expect(get.headers.get("Access-Control-Expose-Headers"), origin).toBeNull();
    }
    expect(upstreamPaths(), "a preflight never reaches BeatPass").toEqual(["/tracks/1"]);
  });

  // A wrong allowlist must not widen into "any origin": it lets no origin in, and says so.
  it.each(["null", "*", "*.example", "https://a.example/path", "https://a.example, null", "a.example"])(
    "an invalid ALLOWED_ORIGINS=%j lets no browser origin in, and the data is still served",
    async (value) => {
      for (const origin of ["null", "https://a.example", "https://evil.example"]) {
        const res = await call("/v1/genres", { headers: { Origin: origin } }, { ALLOWED_ORIGINS: value });
        expect(res.status).toBe(200);
        expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
      }
    },
  );

  it("leaves widgets and webhooks out of CORS", async () => {
    const res = await call("/widget/track/1", { headers: { Origin: "https://blog.example" } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("API keys", () => {
  it("a valid key is accepted and changes limits, never the data", async () => {
    const key = await createKey({ tier: "partner", name: "Acme" });
    const anon = await call("/v1/tracks/1");
    const keyed = await call("/v1/tracks/1", { headers: { "X-Api-Key": key } });
    expect(keyed.status).toBe(200);
    expect(keyed.text).toBe(anon.text);
    expect(keyed.headers.get("Cache-Status")).toContain("hit"); // one shared cache
    const { limit, periodSeconds } = DOCUMENTED_LIMITS.partner;
    expect(keyed.headers.get("RateLimit-Policy")).toBe(`"partner";q=${limit};w=${periodSeconds}`);
  });

  // Cards carry no request policy: they are not counted per request.
  it("a standard key gets the standard tier's policy, on /v1 and /oembed", async () => {
    const key = await createKey({ tier: "standard" });
    const { limit, periodSeconds } = DOCUMENTED_LIMITS.standard;
    for (const path of ["/v1/genres", "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F1"]) {
      const res = await call(path, { headers: { "X-Api-Key": key } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("RateLimit-Policy"), path).toBe(`"standard";q=${limit};w=${periodSeconds}`);
    }
  });

  it.each([
    ["a wrong key of the same length", async () => randomKey()],
    ["a wrong key of another length", async () => `bpe_${"x".repeat(20)}`],
    ["an empty key", async () => ""],
    ["a revoked key", () => createKey({ revoked_at: new Date().toISOString() })],
    ["an expired key", () => createKey({ expires_at: new Date(Date.now() - 1000).toISOString() })],
  ])("%s is a 401 invalid_api_key that does not say which", async (_label, make) => {
    const res = await call("/v1/tracks/1", { headers: { "X-Api-Key": await make() } });
    const problem = expectProblem(res, 401, "invalid_api_key");
    expect(problem.detail).toBe(
      "The X-Api-Key is not valid (unknown, revoked or expired). Omit it to use the anonymous tier.",
    );
    expect(upstreamPaths()).toEqual([]);
  });

  it("a record whose stored hash does not match its key is refused", async () => {
    const key = randomKey();
    await createKey({ hash: "0".repeat(64) }, key);
    expectProblem(await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
  });

  it("a revocation reaches an isolate that already accepted the key within 60 s", async () => {
    const clock = useClock();
    const key = await createKey({ tier: "partner" });
    expect((await call("/v1/tracks/1", { headers: { "X-Api-Key": key } })).status).toBe(200);
    clock.advance(1000); // KV takes one write per second to a key: the revocation comes later
    // key:revoke rewrites the record with revoked_at; this isolate has the key's record in hand.
    await createKey({ tier: "partner", revoked_at: new Date(clock.now()).toISOString() }, key);
    clock.advance(REVOCATION_DELAY_MS + 1);
    expectProblem(await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
    expectProblem(await call("/v1/genres", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
  });

  it("an expiry takes effect at expires_at in an isolate that already accepted the key", async () => {
    const clock = useClock();
    const key = await createKey({ expires_at: new Date(clock.now() + 30_000).toISOString() });
    expect((await call("/v1/tracks/1", { headers: { "X-Api-Key": key } })).status).toBe(200);
    clock.advance(29_000);
    expect((await call("/v1/tracks/1", { headers: { "X-Api-Key": key } })).status).toBe(200);
    clock.advance(1_000);
    expectProblem(await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
  });

  it("a rejected key never appears in a log line", async () => {
    const key = randomKey();
    expectProblem(await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
    expect(requestLines()).toEqual([expect.objectContaining({ status: 401, key_id: null })]);
    for (const line of logLines) expect(line).not.toContain(key.slice(4));
  });

  it("a key whose record cannot be read (KV failing) is served as anonymous, logged as such, and never logged itself", async () => {
    const key = await createKey({ tier: "partner" });
    const res = await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }, { BEATPASS_CACHE: kvFailingReads() });
    expect(res.status).toBe(200);
    const anon = DOCUMENTED_LIMITS.anon;
    expect(res.headers.get("RateLimit-Policy")).toBe(`"anon";q=${anon.limit};w=${anon.periodSeconds}`);
    expect(res.json().data).toMatchObject({ id: 1 });
    const events = logLines.map((l) => JSON.parse(l).event);
    expect(events).toContain("api_key_lookup_failed");
    expect(requestLines()).toEqual([expect.objectContaining({ status: 200, client_tier: "anon", key_id: null })]);
    for (const line of logLines) expect(line).not.toContain(key.slice(4));
  });

  it("a failed key lookup is not remembered: the next request, with KV readable, gets the key's tier", async () => {
    const key = await createKey({ tier: "partner" });
    const failed = await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }, { BEATPASS_CACHE: kvFailingReads() });
    expect(failed.status).toBe(200);
    const res = await call("/v1/tracks/1", { headers: { "X-Api-Key": key } });
    expect(res.status).toBe(200);
    const { limit, periodSeconds } = DOCUMENTED_LIMITS.partner;
    expect(res.headers.get("RateLimit-Policy")).toBe(`"partner";q=${limit};w=${periodSeconds}`);
  });
});

describe("purge webhook", () => {
  /** A signed purge through an execution context whose runtime has a tag-purging cache. */
  async function purgeWithEdgeCache(purge: (o: { tags: string[] }) => Promise<unknown>, ...resources: string[]) {
    const ctx = createExecutionContext();
    Object.assign(ctx, { cache: { purge } });
    const req = new Request(`${ORIGIN}/hooks/purge`, await signed(purgeBody(...resources)));
    const res = await worker.fetch(req, { ...env, PURGE_WEBHOOK_SECRET: SECRET }, ctx);
    await waitOnExecutionContext(ctx);
    return checked(res, await res.text());
  }

  it("also purges the Workers Cache by tag (ctx.cache.purge) where the runtime has one", async () => {
    const asked: unknown[] = [];
    const res = await purgeWithEdgeCache(async (o) => asked.push(o), "track:7", "artist:3");
    expect(res.status).toBe(200);
    // The resources' own tags, and the tag every collection response carries.
    expect(asked).toEqual([{ tags: ["track:7", "artist:3", "collections"] }]);
  });

  it("a failing Workers Cache purge is logged; the Worker's own purge still answers 200", async () => {
    const res = await purgeWithEdgeCache(() => Promise.reject(new Error("cache down")), "track:8");
    expect(res.status).toBe(200);
    expect(logLines.some((l) => l.includes("edge_purge_failed"))).toBe(true);
  });

  it("a valid purge sends the next request for that track (and lists) upstream; an unrelated track stays cached", async () => {
    const clock = useClock();
    for (const p of ["/v1/tracks/5", "/v1/tracks/6", "/v1/tracks?page=1", "/widget/track/5"]) await call(p);
    const before = upstreamPaths().length;
    clock.advance(1000);
    const res = await purge(await signed(purgeBody("track:5", "track:5")));
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.json()).toMatchObject({ purged: ["track:5"], collections: true });

    for (const p of ["/v1/tracks/5", "/v1/tracks/6", "/v1/tracks?page=1", "/widget/track/5"]) await call(p);
    expect(upstreamPaths().slice(before).sort()).toEqual(["/tracks", "/tracks/5", "/tracks/5/wave"]);
  });

  it("reaches an isolate that did not receive it, through KV", async () => {
    const clock = useClock();
    await call("/v1/tracks/5");
    clock.advance(1000);
    expect((await purge(await signed(purgeBody("track:5")))).status).toBe(200);
    resetPurges(); // what a new isolate looks like
    await call("/v1/tracks/5");
    expect(upstreamPaths()).toEqual(["/tracks/5", "/tracks/5"]);
  });

  it("two purges made one after the other are both in effect for an isolate that loaded neither", async () => {
    const clock = useClock();
    await call("/v1/tracks/5");
    await call("/v1/tracks/6");
    clock.advance(1000);
    expect((await purge(await signed(purgeBody("track:5")))).status).toBe(200);
    clock.advance(1000);
    expect((await purge(await signed(purgeBody("track:6")))).status).toBe(200);
    resetPurges();
    await call("/v1/tracks/5");
    await call("/v1/tracks/6");
    expect(upstreamPaths()).toEqual(["/tracks/5", "/tracks/6", "/tracks/5", "/tracks/6"]);
  });

  it("a purge made by another isolate reaches an isolate that already loaded the purge record within 5 s", async () => {
    const clock = useClock();
    await call("/v1/tracks/5"); // this isolate loads the purge record and caches the track
    clock.advance(1000);
    // Another isolate's webhook records the purge with the budget keeper, which mirrors it to KV.
    await keeper().recordPurge(["track:5"]);

    clock.advance(PURGE_REACHES_OTHERS_MS - 1000);
    // At most two requests after 5 s: the first may still answer from what it knew.
    await call("/v1/tracks/5");
    await call("/v1/tracks/5");
    expect(upstreamPaths()).toEqual(["/tracks/5", "/tracks/5"]);
  });

  it("a lagging copy of the purge record in KV does not undo a purge this isolate already applied", async () => {
    const clock = useClock();
    await call("/v1/tracks/5");
    const before = clock.now();
    clock.advance(1000);
    expect((await purge(await signed(purgeBody("track:5")))).status).toBe(200);
    // A KV replica that has not caught up yet still serves an older record. (Written a second
    // after the keeper's mirror: KV takes one write per second to a key.)
    clock.advance(1000);
    await env.BEATPASS_CACHE.put("v1:meta:purges", JSON.stringify({ "track:5": before - 1000, "*": before - 1000 }));
    clock.advance(PURGE_REACHES_OTHERS_MS);
    await call("/v1/genres"); // past the sync interval: this isolate re-reads the record
    await call("/v1/tracks/5");
    expect(upstreamPaths()).toEqual(["/tracks/5", "/genres", "/tracks/5"]);
  });

  it("12 concurrent purges of 12 tracks are all recorded (none overwrites another)", async () => {
    for (let id = 1; id <= 12; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => purge(await signed(purgeBody(`track:${i + 1}`)))),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    // KV takes one write per second to a key: the keeper's mirror carries the purges that came
    // within a second of its last write in one write a second later.
    await vi.waitFor(
      async () => {
        const mirror = (await env.BEATPASS_CACHE.get<Record<string, number>>("v1:meta:purges", "json")) ?? {};
        for (let id = 1; id <= 12; id++) expect(mirror[`track:${id}`], `track:${id} recorded`).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 100 },
    );
    // A fresh isolate that knows only the record refetches every one of them.
    resetPurges();
    memory.clear();
    abandonCacheApiEntries();
    fake.requests.length = 0;
    for (let id = 1; id <= 12; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
    expect(upstreamPaths()).toHaveLength(12);
  });

  it("rejects a tampered body", async () => {
    const init = await signed(purgeBody("track:5"));
    expectProblem(await purge({ ...init, body: purgeBody("track:6") }), 401, "invalid_signature");
  });

  it("accepts a timestamp up to 300 s old or ahead, and refuses one 301 s off either way", async () => {
    // Frozen on a whole second: the Worker compares fractional time, so a real clock ticking
    // over between signing and checking would move the edges by up to a second.
    const now = Math.floor(Date.now() / 1000);
    useClock(now * 1000);
    for (const t of [now + TOLERANCE_SECONDS + 1, now - TOLERANCE_SECONDS - 1]) {
      expectProblem(await purge(await signed(purgeBody("track:5"), { t })), 401, "invalid_signature");
    }
    expect((await purge(await signed(purgeBody("track:5"), { t: now + TOLERANCE_SECONDS - 1 }))).status).toBe(200);
    expect((await purge(await signed(purgeBody("track:6"), { t: now - TOLERANCE_SECONDS + 1 }))).status).toBe(200);
  });

  it("rejects a replay of a used signature, in the isolate that saw it and in one that did not", async () => {
    const init = await signed(purgeBody("track:5"));
    expect((await purge(init)).status).toBe(200);
    expectProblem(await purge(init), 409, "signature_replayed");
    resetSeenSignatures(); // what a new isolate looks like
    expectProblem(await purge(init), 409, "signature_replayed");
  });

  it.each([
    "",
    "t=1,v1=zz",
    `v1=${"a".repeat(64)}`,
    `t=abc,v1=${"a".repeat(64)}`,
    `t=1,v1=${"A".repeat(64)}`,
    `t=1, v1=${"a".repeat(64)}`,
  ])("rejects the malformed header %j with 401, never 500", async (header) => {
    const init = await signed(purgeBody("track:5"), { header });
    if (header === "") delete (init.headers as Record<string, string>)[SIGNATURE_HEADER];
    expectProblem(await purge(init), 401, "invalid_signature");
  });

  it.each([63, 65, 128])("rejects a current signature of %i hex digits with 401, never 500", async (length) => {
    const now = Math.floor(Date.now() / 1000);
    useClock(now * 1000);
    const body = purgeBody("track:5");
    const sig = await hmac(SECRET, `${now}.${body}`);
    const wrongLength = (sig + sig).slice(0, length);
    const res = await purge(await signed(body, { header: `t=${now},v1=${wrongLength}` }));
    expectProblem(res, 401, "invalid_signature");
  });

  it("rejects a signature made with another secret", async () => {
    expectProblem(
      await purge(await signed(purgeBody("track:5"), { secret: "x".repeat(40) })),
      401,
      "invalid_signature",
    );
  });

  it(`refuses a body over ${DOCUMENTED_MAX_PURGE_BODY_BYTES} bytes with 413 and accepts one of exactly that size`, async () => {
    const exact = (n: number) => {
      const json = purgeBody("track:5");
      return json + " ".repeat(n - json.length); // JSON allows trailing whitespace
    };
    expectProblem(await purge(await signed(exact(DOCUMENTED_MAX_PURGE_BODY_BYTES + 1))), 413, "payload_too_large");
    expect((await purge(await signed(exact(DOCUMENTED_MAX_PURGE_BODY_BYTES)))).status).toBe(200);
  });

  it("refuses a body declared over 8 KiB before reading any of it", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull() {
          pulled++;
          throw new Error("the body was read");
        },
      },
      { highWaterMark: 0 },
    );
    const init = await signed(purgeBody("track:5"));
    const res = await purge({
      ...init,
      body,
      headers: { ...init.headers, "Content-Length": String(DOCUMENTED_MAX_PURGE_BODY_BYTES + 1) },
    });
    expectProblem(res, 413, "payload_too_large");
    expect(pulled).toBe(0);
  });

  it("refuses a streamed body (no Content-Length) that grows past 8 KiB, reading little past the cap", async () => {
    let sent = 0;
    const chunk = new TextEncoder().encode(" ".repeat(1024));
    const json = new TextEncoder().encode(purgeBody("track:5"));
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const next = sent === 0 ? json : chunk;
          sent += next.byteLength;
          controller.enqueue(next);
          if (sent > 64 * 1024) controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const init = await signed(purgeBody("track:5"));
    expectProblem(await purge({ ...init, body }), 413, "payload_too_large");
    expect(sent).toBeLessThanOrEqual(DOCUMENTED_MAX_PURGE_BODY_BYTES + 2 * 1024);
  });

  it("validates the resources", async () => {
    for (const resources of [[], ["track:abc"], ["../users/me"], ["genre:1"], Array(101).fill("track:1")]) {
      expectProblem(await purge(await signed(JSON.stringify({ resources }))), 400, "invalid_request");
    }
  });

  it.each([
    ["unset", undefined],
    ["empty", ""],
    ["blank", "   "],
  ])(
    "is off (503 config_error, nothing purged) while PURGE_WEBHOOK_SECRET is %s, even for a body signed with 'undefined'",
    async (_label, value) => {
      await call("/v1/tracks/5");
      for (const secret of ["undefined", SECRET]) {
        const res = await purge(await signed(purgeBody("track:5"), { secret }), { PURGE_WEBHOOK_SECRET: value });
        expectProblem(res, 503, "config_error");
      }
      expect((await call("/v1/tracks/5")).headers.get("Cache-Status")).toContain("hit");
      expect(upstreamPaths()).toEqual(["/tracks/5"]);
    },
  );

  it("refuses a secret under 32 characters as configuration, and takes one of 32", async () => {
    const short = "s".repeat(31);
    expectProblem(
      await purge(await signed(purgeBody("track:5"), { secret: short }), { PURGE_WEBHOOK_SECRET: short }),
      503,
      "config_error",
    );
    const enough = "s".repeat(32);
    expect(
      (await purge(await signed(purgeBody("track:5"), { secret: enough }), { PURGE_WEBHOOK_SECRET: enough })).status,
    ).toBe(200);
  });

  it("is POST-only", async () => {
    const get = await call("/hooks/purge");
    expectProblem(get, 405, "method_not_allowed");
    expect(get.headers.get("Allow")).toBe("POST");
  });
});

const openApiSchema = z.object({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.object({ title: z.string().min(1), version: z.string().min(1) }),
  paths: z.record(
    z.string().regex(/^\//),
    z.partialRecord(
      z.enum(["get", "post", "put", "delete", "patch", "head", "options"]),
      z.object({
        operationId: z.string(),
        responses: z.record(z.string().regex(/^[1-5]\d\d$/), z.unknown()).refine((r) => Object.keys(r).length > 0),
        parameters: z
          .array(
            z.object({
              name: z.string(),
              in: z.enum(["path", "query", "header"]),
              required: z.boolean().optional(),
              schema: z.unknown(),
            }),
          )
          .optional(),
      }),
    ),
  ),
  components: z
    .object({ schemas: z.object({ Problem: z.object({ type: z.literal("object") }).passthrough() }).passthrough() })
    .passthrough(),
});

describe("OpenAPI", () => {
  it("is an OpenAPI 3.1 document with unique operation ids and declared path parameters", async () => {
    const doc = openApiSchema.parse((await call("/openapi.json")).json());
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops)) {
        expect((op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)).toEqual(names);
      }
    }
  });

  it("lists exactly the routes the app serves", async () => {
    const doc = openApiSchema.parse((await call("/openapi.json")).json());
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const routes = createApp().routes.map((r) => ({ ...r, path: r.path.replace(/:(\w+)/g, "{$1}") }));
    // GET routes also answer HEAD; a path registered for ALL beside its GET (readOnly) answers OPTIONS.
    const gets = new Set(routes.filter((r) => r.method === "GET").map((r) => r.path));
    const served = new Set(
      routes.flatMap((r) => {
        if (r.method === "GET") return [`GET ${r.path}`, `HEAD ${r.path}`];
        if (r.method === "ALL") return gets.has(r.path) ? [`OPTIONS ${r.path}`] : [];
        return [`${r.method} ${r.path}`];
      }),
    );
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("documents the problem catalogue and the API key", async () => {
    const doc = (await call("/openapi.json")).json();
    expect(doc.components.schemas.ProblemCode.enum).toContain("rate_limited");
    // One list of codes: Problem's code refers to it.
    expect(doc.components.schemas.Problem.properties.code).toEqual({ $ref: "#/components/schemas/ProblemCode" });
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "X-Api-Key" });
  });

  it("is built once per isolate and origin, each origin with its own servers entry", async () => {
    const a = openApiFor("https://a.example");
    expect(openApiFor("https://a.example")).toBe(a);
    expect(openApiFor("https://b.example").doc).not.toBe(a.doc);
    expect(JSON.parse(a.text).servers).toEqual([{ url: "https://a.example" }]);
    const first = await call("/openapi.json");
    expect(first.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect((await call("/openapi.json")).text).toBe(first.text);
  });

  it("names every JSON body it answers with or takes, so generated clients get one type each", async () => {
    const doc = (await call("/openapi.json")).json();
    const schemaOf = (path: string, method: string, status: string) =>
      doc.paths[path][method].responses[status].content["application/json"].schema;
    expect(schemaOf("/oembed", "get", "200")).toEqual({ $ref: "#/components/schemas/OEmbed" });
    expect(schemaOf("/healthz", "get", "200")).toEqual({ $ref: "#/components/schemas/Health" });
    expect(schemaOf("/healthz", "get", "503")).toEqual({ $ref: "#/components/schemas/Health" });
    expect(schemaOf("/hooks/purge", "post", "200")).toEqual({ $ref: "#/components/schemas/PurgeResult" });
    expect(schemaOf("/problems/{code}", "get", "200")).toEqual({ $ref: "#/components/schemas/ProblemType" });
    expect(schemaOf("/", "get", "200")).toEqual({ $ref: "#/components/schemas/RouteIndex" });
    expect(doc.paths["/hooks/purge"].post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/PurgeRequest",
    });
  });

  it("bounds widget ids and purge bodies exactly as the service does", async () => {
    const doc = (await call("/openapi.json")).json();
    const file = doc.paths["/widget/{kind}/{file}"].get.parameters.find((p: { name: string }) => p.name === "file");
    const pattern = new RegExp(file.schema.pattern);
    for (const [name, accepted] of [
      ["2147483647.svg", true],
      ["2147483648.svg", false],
      ["9999999999.png", false],
      ["1", true],
      ["01", false],
    ] as const) {
      expect(pattern.test(name), name).toBe(accepted);
      const res = await call(`/widget/track/${name}`);
      expect(res.status === 400, `service on ${name}`).toBe(!accepted);
    }
    const purge = new Validator(doc.components.schemas.PurgeRequest, "2020-12", false);
    const secret = "s".repeat(32);
    for (const [body, accepted] of [
      [{ resources: ["track:1", "tag:lo-fi"] }, true],
      [{ resources: [] }, false],
      [{ resources: ["track:0"] }, false],
      [{ resources: ["track:1"], extra: true }, false],
      [{ resources: Array.from({ length: 101 }, (_, i) => `track:${i + 1}`) }, false],
    ] as const) {
      expect(purge.validate(body).valid, JSON.stringify(body).slice(0, 60)).toBe(accepted);
      const res = await call("/hooks/purge", await signedPurge(secret, JSON.stringify(body)), {
        PURGE_WEBHOOK_SECRET: secret,
      });
      expect(res.status, `service on ${JSON.stringify(body).slice(0, 60)}`).toBe(accepted ? 200 : 400);
    }
  });

  it.each([1, 9, 10, 99, 100, 305, 2_147_483_647])("upToPattern(%i) matches exactly 1..max", (max) => {
    const re = new RegExp(`^${upToPattern(max)}$`);
    const probes = [0, 1, 2, 9, 10, 11, 99, 100, 101, 304, 305, 306, max - 1, max, max + 1, max * 10, 2_147_483_648];
    for (let i = 0; i < 200; i++) probes.push(Math.floor(Math.random() * max * 2));
    for (const n of probes) expect(re.test(String(n)), String(n)).toBe(n >= 1 && n <= max);
    expect(re.test("01")).toBe(false);
    expect(re.test("-1")).toBe(false);
  });

  it("/docs loads only the self-hosted renderer and our mending of it, which reads the document with examples; its CSP allows nothing else", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    const page = parse(res.text);
    const scripts = byTag(page, "script");
    // The mending first, so it watches the renderer's markup from the start.
    expect(scripts.map((s) => s.attribs.src).filter(Boolean)).toEqual([RENDERER_A11Y_PATH, RENDERER_PATH]);
    const config = JSON.parse(
      scripts.find((s) => s.attribs.id === "api-reference")?.attribs["data-configuration"] ?? "",
    );
    // Nothing a third party would be asked for: fonts, usage reports, the AI agent, a request proxy.
    expect(config).toMatchObject({ url: REFERENCE_PATH, withDefaultFonts: false, telemetry: false });
    expect(config.agent).toEqual({ disabled: true });
    expect(config.proxyUrl).toBeUndefined();
    // No credential is handed to the page.
    expect(res.text).not.toMatch(/X-Api-Key|authentication|apiKey/i);
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src ${ORIGIN}${RENDERER_PATH} ${ORIGIN}${RENDERER_A11Y_PATH};`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/https?:\/\/(?!proxy\.test)/);
  });
});

describe("request logs", () => {
  it("by default log every miss and failure, and a sample of hits (REQUEST_LOG_SAMPLE)", async () => {
    const requests = () => logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "request");
    const none = { REQUEST_LOG_SAMPLE: "0" };
    await call("/v1/tracks/1", {}, none);
    for (let i = 0; i < 5; i++) await call("/v1/tracks/1", {}, none);
    fake.addFault({ kind: "status", status: 404, path: "/tracks/999" });
    await call("/v1/tracks/999", {}, none);
    expect(requests().map((r) => [r.cache, r.status])).toEqual([
      ["miss", 200],
      ["miss", 404],
    ]);
    logLines.length = 0;
    const every = { REQUEST_LOG_SAMPLE: "100%" };
    for (let i = 0; i < 3; i++) await call("/v1/tracks/1", {}, every);
    expect(requests().map((r) => r.cache)).toEqual(["hit", "hit", "hit"]);
  });

  it("never write search text into a log line, even where a cache key is logged", async () => {
    const words = "zebra-unicorn-4417";
    const policy = { CACHE_POLICY: JSON.stringify({ search: { soft: 1, hard: 600, staleIfError: 3600 } }) };
    const clock = useClock();
    await call(`/v1/search?query=${words}`, {}, policy);
    clock.advance(2000);
    fake.addFault({ kind: "status", status: 500, path: "/search" });
    // Stale: served, and refreshed in the background, which fails and logs its key.
    expect((await call(`/v1/search?query=${words}`, {}, policy)).status).toBe(200);
    const refresh = logLines.find((l) => l.includes("background_refresh_failed"));
    expect(refresh).toBeDefined();
    expect(JSON.parse(refresh as string).key).toMatch(/^v1:search:.*query=\*/);
    for (const line of logLines) expect(line).not.toContain(words);
  });

  it("write one JSON line per request with no secret, key or client IP (REQUEST_LOG=all)", async () => {
    const key = await createKey();
    const all = { REQUEST_LOG: "all" };
    await call("/v1/tracks/1", { headers: { "X-Api-Key": key, "CF-Connecting-IP": "198.51.100.77" } }, all);
    await call("/v1/tracks/1", {}, all);
    await purge(await signed(JSON.stringify({ resources: ["track:1"] })), all);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/2" });
    await call("/v1/tracks/2", {}, all);
    const parsed = logLines.map((l) => JSON.parse(l));
    const requests = parsed.filter((l) => l.event === "request");
    expect(requests).toHaveLength(4);
    expect(requests[0]).toMatchObject({
      method: "GET",
      route: "/v1/tracks/:id",
      status: 200,
      cache: "miss",
      upstream_status: 200,
      client_tier: "standard",
      key_id: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
    expect(requests[1]).toMatchObject({
      cache: "hit",
      tier: "memory",
      upstream_status: null,
      client_tier: "anon",
      key_id: null,
    });
    expect(requests[3]).toMatchObject({ status: 502, upstream_status: 500 });
    for (const line of logLines) {
      for (const secret of [CANARY_TOKEN, key, SECRET, "198.51.100.77"]) expect(line).not.toContain(secret);
    }
  });

  it("REQUEST_LOG=misses leaves out fresh hits only; off leaves out every request line but not failures", async () => {
    // No sampled hits (the default logs 1% of them: this test failed once in a hundred runs).
    const misses = { REQUEST_LOG: "misses", REQUEST_LOG_SAMPLE: "0" };
    await call("/v1/tracks/4", {}, misses);
    await call("/v1/tracks/4", {}, misses);
    await call("/v1/tracks/abc", {}, misses);
    const logged = () => logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "request");
    expect(logged().map((l) => [l.cache, l.status])).toEqual([
      ["miss", 200],
      [null, 400],
    ]);

    logLines.length = 0;
    const off = { REQUEST_LOG: "off" };
    await call("/v1/tracks/5", {}, off);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/6" });
    expectProblem(await call("/v1/tracks/6", {}, off), 502, "upstream_error");
    expect(logged()).toEqual([]);
    expect(logLines.map((l) => JSON.parse(l).event)).toContain("request_failed");
  });

  it("send Server-Timing with the cache, coordination, budget and upstream phases", async () => {
    const miss = await call("/v1/tracks/3");
    expect(miss.headers.get("Server-Timing")).toMatch(
      /^total;dur=\d+, cache;dur=\d+;desc="miss", coord;dur=\d+, budget;dur=\d+, upstream;dur=\d+$/,
    );
    const hit = await call("/v1/tracks/3");
    expect(hit.headers.get("Server-Timing")).toMatch(/^total;dur=\d+, cache;dur=\d+;desc="hit memory"$/);
  });
});

describe("headers every response carries", () => {
  it("echoes a caller's plain X-Request-Id of up to 64 characters, in the header, the problem and the log", async () => {
    for (const presented of ["trace-42_a=", "x".repeat(MAX_REQUEST_ID)]) {
      const res = await call("/v1/nope", { headers: { "X-Request-Id": presented } });
      expect(res.headers.get("X-Request-Id")).toBe(presented);
      expect(expectProblem(res, 404, "not_found").request_id).toBe(presented);
    }
    expect(requestLines().map((l) => l.request_id)).toEqual(["trace-42_a=", "x".repeat(MAX_REQUEST_ID)]);
  });

  it.each([
    ["65 characters", "x".repeat(MAX_REQUEST_ID + 1)],
    ["a space", "a b"],
    ["a quote", 'a"b'],
    ["a tab", "a\tb"],
    ["markup", "<script>"],
    ["a slash", "a/b"],
    ["a semicolon", "a;b"],
  ])("replaces a caller's X-Request-Id with %s by a fresh UUID", async (_label, presented) => {
    const res = await call("/v1/tracks/1", { headers: { "X-Request-Id": presented } });
    const id = res.headers.get("X-Request-Id");
    expect(id).toMatch(UUID);
    expect(requestLines().map((l) => l.request_id)).toEqual([id]);
    for (const line of logLines) expect(line).not.toContain(presented);
  });

  it.each([
    ["/v1/tracks/1", "a cached JSON answer"],
    ["/v1/tracks/abc", "a problem"],
    ["/healthz", "a route answering with c.json"],
    ["/openapi.json", "a route answering with c.json"],
  ])("%s (%s): request id, nosniff, CORS and Server-Timing, each once", async (path) => {
    const res = await call(path);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Server-Timing")).toMatch(/^total;dur=\d+/);
    // A header written twice would show up joined with a comma.
    expect(res.headers.get("X-Request-Id")).not.toContain(",");
    expect(res.headers.get("Access-Control-Allow-Origin")).not.toContain(",");
  });

  it("with an allowlist, Vary: Origin once, whichever way the response was built", async () => {
    const allowlist = { ALLOWED_ORIGINS: "https://a.example" };
    for (const path of ["/v1/tracks/1", "/healthz"]) {
      const res = await call(path, { headers: { Origin: "https://a.example" } }, allowlist);
      const vary = (res.headers.get("Vary") ?? "").split(",").map((v) => v.trim());
      expect(vary.filter((v) => v === "Origin")).toEqual(["Origin"]);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://a.example");
    }
  });

  it("304s carry the same Cache-Control as the answer they confirm, on /v1, /widget and /oembed", async () => {
    useClock(); // frozen: max-age counts down by the second
    for (const path of ["/v1/tracks/1", "/widget/track/1", "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F1"]) {
      const first = await call(path);
      expect(first.status, path).toBe(200);
      const etag = first.headers.get("ETag") ?? "";
      expect(etag, path).toMatch(/^"[^"]+"$/);
      const again = await call(path, { headers: { "If-None-Match": etag } });
      expect(again.status, path).toBe(304);
      expect(again.text, path).toBe("");
      expect(again.headers.get("Cache-Control"), path).toBe(first.headers.get("Cache-Control"));
      expect(again.headers.get("Cache-Control"), path).toMatch(/^public, max-age=\d+/);
    }
  });

  it("405s, preflights and plain OPTIONS carry an explicit Cache-Control", async () => {
    const notAllowed: [string, string][] = [
      ["/v1/tracks/1", "POST"],
      ["/v1/tracks/1", "DELETE"],
      ["/widget/track/1", "PUT"],
      ["/hooks/purge", "GET"],
      ["/healthz", "POST"],
    ];
    for (const [path, method] of notAllowed) {
      const res = await call(path, { method });
      expectProblem(res, 405, "method_not_allowed"); // no-store, like every problem but 404 and 410
    }
    const preflight = await call("/v1/tracks/1", {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Cache-Control")).toBe("no-store");
    const options = await call("/v1/tracks/1", { method: "OPTIONS" });
    expect(options.status).toBe(204);
    expect(options.headers.get("Allow")).toBe("GET, HEAD, OPTIONS");
    expect(options.headers.get("Cache-Control")).toMatch(/^(no-store|public, max-age=\d+)$/);
    expect(upstreamPaths()).toEqual([]);
  });
});

it("the app still uses the real env in these tests", () => {
  expect(env.BEATPASS_TOKEN).toBe(CANARY_TOKEN);
});
