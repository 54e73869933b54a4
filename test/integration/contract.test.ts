import { Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { openApiFor } from "../../src/openapi";
import { OPERATOR_KEY } from "../helpers/constants";
import { SIGNATURE_HEADER, signedPurge } from "../helpers/purge";
import { type Called, call, expectProblem, ORIGIN } from "../helpers/request";
import { type FakeFault, fake } from "../helpers/upstream";

/**
 * The contract, from the spec's side: every operation of /openapi.json is called with valid
 * and invalid examples and with the fake BeatPass's faults, one scenario per documented
 * status; each answer must have a documented status and content type, and its body must
 * validate (JSON Schema 2020-12, @cfworker/json-schema: it runs in workerd without eval)
 * against the operation's schema. A documented status no scenario produces fails, and so does
 * an operation without examples here.
 */

type Json = Record<string, unknown>;
const doc = openApiFor(ORIGIN).doc as { paths: Record<string, Record<string, Json>>; components: Json };

/** Replaces every local $ref with what it points at (the document's schemas are not recursive). */
function inline(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(inline);
  if (typeof node !== "object" || node === null) return node;
  const ref = (node as Json).$ref;
  if (typeof ref === "string" && ref.startsWith("#/")) {
    let target: unknown = doc;
    for (const part of ref.slice(2).split("/")) target = (target as Json)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return inline(target);
  }
  return Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, inline(v)]));
}

interface Operation {
  path: string;
  method: string;
  id: string;
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}
const OPERATIONS: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    path,
    method,
    id: String(op.operationId),
    responses: inline(op.responses) as Operation["responses"],
  })),
);

/** Checks one answer against the operation: declared status, declared content type, valid body. */
function checkAgainstSpec(op: Operation, res: { status: number; headers: Headers; text: string }): void {
  const declared = op.responses[String(res.status)];
  if (!declared) throw new Error(`${op.id}: status ${res.status} is not documented`);
  // Whatever a shared cache may keep names what it is about, so a tag purge can reach it.
  const cacheable = /^public/.test(res.headers.get("Cache-Control") ?? "") && op.method !== "options";
  if (cacheable && !res.headers.get("Cache-Tag"))
    throw new Error(`${op.id}: cacheable ${res.status} without Cache-Tag`);
  if (!declared.content) {
    if (res.text !== "") throw new Error(`${op.id}: ${res.status} is documented without a body, got one`);
    return;
  }
  const type = (res.headers.get("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
  const media = declared.content[type];
  if (!media) throw new Error(`${op.id}: ${res.status} ${type} is not a documented content type`);
  if (!media.schema || !/json$/.test(type)) return;
  const result = new Validator(media.schema as never, "2020-12", false).validate(JSON.parse(res.text));
  if (!result.valid) {
    const where = result.errors
      .slice(0, 4)
      .map((e) => `${e.instanceLocation} ${e.error}`)
      .join("; ");
    throw new Error(`${op.id}: ${res.status} body does not match its schema: ${where}`);
  }
}

/** A request and what the world looks like while it is made. */
interface Scenario {
  path: string;
  init?: RequestInit;
  env?: Partial<Env>;
  fault?: FakeFault & { path?: string };
  /** Runs first (e.g. to fetch an ETag); returns request headers to add. */
  before?: () => Promise<Record<string, string>>;
}

const refuseAll = { limit: async () => ({ success: false }) };
const withEtag = (path: string) => async () => ({ "If-None-Match": (await call(path)).headers.get("ETag") ?? "" });
const SECRET = "contract-test-secret-0123456789abcdef";

/** Scenarios that give the usual statuses of a route that reads BeatPass through `upstream`. */
function readScenarios(valid: string, invalid: string | undefined, upstream: string): Record<string, Scenario> {
  return {
    "200": { path: valid },
    "304": { path: valid, before: withEtag(valid) },
    ...(invalid ? { "400": { path: invalid } } : {}),
    "401": { path: valid, init: { headers: { "X-Api-Key": "bp_not_a_key" } } },
    "403": { path: valid, fault: { kind: "status", status: 403, path: upstream } },
    "404": { path: valid, fault: { kind: "status", status: 404, path: upstream } },
    "410": { path: valid, fault: { kind: "status", status: 410, path: upstream } },
    "429": { path: valid, env: { RATE_LIMIT_ANON: refuseAll as never } },
    "502": { path: valid, fault: { kind: "status", status: 500, path: upstream } },
    "503": { path: valid, fault: { kind: "status", status: 503, path: upstream } },
    "504": { path: valid, fault: { kind: "hang", path: upstream }, env: { UPSTREAM_TIMEOUT_MS: "50" } },
  };
}

const signed = (body: string) => signedPurge(SECRET, body);

/** Valid and invalid examples for every catalog route, by operation id. */
const CATALOG: Record<string, [valid: string, invalid: string | undefined, upstream: string]> = {
  tracks: ["/v1/tracks?per_page=5", "/v1/tracks?per_page=0", "/tracks"],
  track: ["/v1/tracks/7?with=tags", "/v1/tracks/abc", "/tracks/7"],
  trackLyrics: ["/v1/tracks/3/lyrics", "/v1/tracks/0/lyrics", "/tracks/3/lyrics"],
  trackWave: ["/v1/tracks/7/wave", "/v1/tracks/-1/wave", "/tracks/7/wave"],
  albums: ["/v1/albums?page=2", "/v1/albums?page=x", "/albums"],
  album: ["/v1/albums/1?with=tracks", "/v1/albums/1?with=nope", "/albums/1"],
  artists: ["/v1/artists", "/v1/artists?per_page=1000000000000", "/artists"],
  artist: ["/v1/artists/3?with=genres", "/v1/artists/99999999999", "/artists/3"],
  artistTracks: ["/v1/artists/3/tracks", "/v1/artists/x/tracks", "/artists/3/tracks"],
  artistAlbums: ["/v1/artists/3/albums", "/v1/artists/x/albums", "/artists/3/albums"],
  playlist: ["/v1/playlists/1", "/v1/playlists/1.5", "/playlists/1"],
  playlistTracks: ["/v1/playlists/1/tracks", "/v1/playlists/x/tracks", "/playlists/1/tracks"],
  genres: ["/v1/genres", undefined, "/genres"],
  tagTracks: ["/v1/tags/dark/tracks", "/v1/tags/%3Cscript%3E/tracks", "/tags/dark/tracks"],
  tagAlbums: ["/v1/tags/dark/albums", "/v1/tags/%3Cscript%3E/albums", "/tags/dark/albums"],
  search: ["/v1/search?query=night&types=track", "/v1/search?query=night&types=nope", "/search"],
  user: ["/v1/users/1", "/v1/users/x", "/users/1"],
};

/** Feeds read BeatPass like the routes above (docs/feeds.md), in each format. */
const FEEDS: Record<string, [valid: string, invalid: string, upstream: string]> = {
  artistFeed: ["/feeds/artist/3.atom", "/feeds/artist/x.atom", "/artists/3"],
  playlistFeed: ["/feeds/playlist/6.json", "/feeds/playlist/0.json", "/playlists/6"],
  genreFeed: ["/feeds/genre/trap.rss", "/feeds/genre/%3Cb%3E.rss", "/genres"],
  tagFeed: ["/feeds/tag/mellow.atom", "/feeds/tag/%3Cscript%3E.atom", "/tags/mellow/tracks"],
};

const OEMBED = "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F7";
const SCENARIOS: Record<string, Record<string, Scenario>> = {
  ...Object.fromEntries(Object.entries(CATALOG).map(([id, [v, i, u]]) => [id, readScenarios(v, i, u)])),
  ...Object.fromEntries(Object.entries(FEEDS).map(([id, [v, i, u]]) => [id, readScenarios(v, i, u)])),
  widget: {
    "200": { path: "/widget/track/7.svg" },
    "304": { path: "/widget/album/1", before: withEtag("/widget/album/1") },
    "400": { path: "/widget/track/7?theme=neon" },
    "404": { path: "/widget/user/1" },
    // A deployment without the rasteriser cannot draw a PNG card, not even an error card.
    "503": { path: "/widget/track/7.png", env: { RASTER: undefined } },
    // A card no memo holds, past the render budget: the error card, in the card's format.
    "429": { path: "/widget/track/7.svg?accent=123456", env: { RENDER_LIMIT_ANON: refuseAll as never } },
  },
  embedScript: {
    "200": { path: "/embed.js" },
    "304": { path: "/embed.js", before: withEtag("/embed.js") },
  },
  oembed: {
    "200": { path: OEMBED },
    "304": { path: OEMBED, before: withEtag(OEMBED) },
    "400": { path: "/oembed?maxwidth=wide" },
    "401": { path: OEMBED, init: { headers: { "X-Api-Key": "bp_not_a_key" } } },
    "404": { path: OEMBED, fault: { kind: "status", status: 404, path: "/tracks/7" } },
    "429": { path: OEMBED, env: { RATE_LIMIT_ANON: refuseAll as never } },
    "501": { path: `${OEMBED}&format=xml` },
    "502": { path: OEMBED, fault: { kind: "status", status: 500, path: "/tracks/7" } },
    "503": { path: OEMBED, fault: { kind: "status", status: 503, path: "/tracks/7" } },
    "504": { path: OEMBED, fault: { kind: "hang", path: "/tracks/7" }, env: { UPSTREAM_TIMEOUT_MS: "50" } },
  },
  purge: {
    "200": { path: "/hooks/purge" },
    "400": { path: "/hooks/purge" },
    "401": { path: "/hooks/purge" },
    "409": { path: "/hooks/purge" },
    "413": { path: "/hooks/purge" },
    "503": { path: "/hooks/purge", env: { PURGE_WEBHOOK_SECRET: undefined } },
  },
  health: {
    "200": { path: "/healthz", init: { headers: { "X-Operator-Key": OPERATOR_KEY } } },
    "429": {
      path: "/healthz",
      init: { headers: { "X-Operator-Key": "a guess" } },
      env: { OPERATOR_GUESSES: refuseAll as never },
    },
    "503": { path: "/healthz", env: { BEATPASS_TOKEN: undefined } },
  },
  problemType: { "200": { path: "/problems/not_found" }, "404": { path: "/problems/no_such_code" } },
  openapi: { "200": { path: "/openapi.json" } },
  docs: { "200": { path: "/docs" } },
  index: { "200": { path: "/", init: { headers: { Accept: "application/json" } } } },
};

/**
 * An operation's scenarios: its own, or for HEAD the GET's (same statuses, no bodies), for
 * OPTIONS one 204 on the GET's example path.
 */
function scenariosOf(op: Operation): Record<string, Scenario> | undefined {
  if (op.method === "head") {
    const get = SCENARIOS[op.id.replace(/Head$/, "")];
    return (
      get &&
      Object.fromEntries(
        Object.entries(get).map(([status, sc]) => [status, { ...sc, init: { ...sc.init, method: "HEAD" } }]),
      )
    );
  }
  if (op.method === "options") {
    const path = SCENARIOS[op.id.replace(/Options$/, "")]?.["200"]?.path;
    return path ? { "204": { path: path.split("?")[0] as string, init: { method: "OPTIONS" } } } : undefined;
  }
  return SCENARIOS[op.id];
}

/** Purge scenarios need signatures made at call time. */
async function purgeInit(status: string): Promise<RequestInit> {
  const body = JSON.stringify({ resources: ["track:7"] });
  switch (status) {
    case "200":
      return signed(body);
    case "400":
      return signed(JSON.stringify({ resources: ["nope"] }));
    case "401":
      return { ...(await signed(body)), headers: { [SIGNATURE_HEADER]: "t=1,v1=00" } };
    case "409": {
      const init = await signed(body);
      await call("/hooks/purge", init, { PURGE_WEBHOOK_SECRET: SECRET });
      return init;
    }
    case "413":
      return signed(JSON.stringify({ resources: ["track:7"], pad: "x".repeat(10_000) }));
    default:
      return signed(body);
  }
}

async function run(op: Operation, status: string, s: Scenario): Promise<Called> {
  if (s.fault) fake.addFault({ ...s.fault });
  const extra = s.before ? await s.before() : {};
  let init: RequestInit = s.init ?? {};
  const env: Partial<Env> = { ...s.env };
  if (op.id === "purge") {
    init = await purgeInit(status);
    if (!("PURGE_WEBHOOK_SECRET" in env)) env.PURGE_WEBHOOK_SECRET = SECRET;
  }
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return call(s.path, { ...init, headers }, env);
}

describe("the OpenAPI contract", () => {
  it("has examples for exactly the spec's operations", () => {
    expect(OPERATIONS.filter((o) => !scenariosOf(o)).map((o) => o.id)).toEqual([]);
    const own = OPERATIONS.filter((o) => o.method !== "head" && o.method !== "options").map((o) => o.id);
    expect(Object.keys(SCENARIOS).sort()).toEqual(own.sort());
    expect(OPERATIONS.length).toBe(Object.values(doc.paths).reduce((n, m) => n + Object.keys(m).length, 0));
  });

  for (const op of OPERATIONS) {
    describe(`${op.method.toUpperCase()} ${op.path} (${op.id})`, () => {
      it("documents only statuses a scenario here produces", () => {
        expect(Object.keys(op.responses).sort()).toEqual(Object.keys(scenariosOf(op) ?? {}).sort());
      });
      for (const [status, scenario] of Object.entries(scenariosOf(op) ?? {})) {
        it(`${status}: answers as documented`, async () => {
          const res = await run(op, status, scenario);
          expect(res.status, res.text.slice(0, 300)).toBe(Number(status));
          checkAgainstSpec(op, res);
        });
      }
    });
  }

  // Whatever BeatPass does, each operation that reads it answers with a status and body its
  // documentation declares: not only the one scenario per status above, every cause.
  const FAULTS: [string, FakeFault, Partial<Env>?][] = [
    ...[400, 401, 403, 404, 405, 409, 410, 422, 429, 500, 502, 503].map((status): [string, FakeFault] => [
      `status ${status}`,
      { kind: "status", status },
    ]),
    ["network failure", { kind: "network" }],
    ["redirect", { kind: "redirect" }],
    ["invalid JSON", { kind: "invalid_json" }],
    ["oversized body", { kind: "large" }],
    ["not the envelope", { kind: "body", body: { status: "success" } }],
    ["timeout", { kind: "hang" }, { UPSTREAM_TIMEOUT_MS: "50" }],
  ];
  // Every /v1 route answers through one handler (routes/read-route.ts) and one status list:
  // an entity and a search stand for them; oEmbed and the cards map failures their own way.
  const READERS: [id: string, path: string, upstream: string][] = [
    ["track", CATALOG.track?.[0] as string, "/tracks/7"],
    ["search", CATALOG.search?.[0] as string, "/search"],
    ["oembed", OEMBED, "/tracks/7"],
    ["widget", "/widget/track/7.svg", "/tracks/7"],
  ];
  for (const [id, path, upstream] of READERS) {
    describe(`${id}: every fault BeatPass can cause gets a documented answer`, () => {
      it.each(FAULTS)("BeatPass's %s", async (_name, fault, env) => {
        const op = OPERATIONS.find((o) => o.id === id && o.method === "get") as Operation;
        fake.addFault({ ...fault, path: upstream });
        checkAgainstSpec(op, await call(path, {}, env));
      });
    });
  }

  it("oEmbed names BeatPass's 403 and 410 as oEmbed 1.0 does: 401 for a private item, 404 for a removed one", async () => {
    fake.addFault({ kind: "status", status: 403, path: "/tracks/7" });
    expectProblem(await call(OEMBED), 401, "not_public");
    fake.addFault({ kind: "status", status: 410, path: "/albums/1" });
    const removed = expectProblem(await call("/oembed?url=https%3A%2F%2Fbeatpass.ca%2Falbum%2F1"), 404, "not_found");
    expect(removed.detail).toMatch(/removed/);
    // The JSON API keeps BeatPass's meaning (its answers are cached from the same loads).
    fake.addFault({ kind: "status", status: 403, path: "/tracks/8" });
    expectProblem(await call("/v1/tracks/8"), 403, "forbidden");
  });

  it("an oEmbed 200 without its optional thumbnail (a frame too short for one) validates too", async () => {
    // The thumbnail is left out where it would be under 200 px wide: the schema must not require it.
    const oembed = OPERATIONS.find((o) => o.id === "oembed") as Operation;
    const res = await call("/oembed?url=https%3A%2F%2Fbeatpass.ca%2Fartist%2F3&maxheight=100");
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.json()).not.toHaveProperty("thumbnail_url");
    checkAgainstSpec(oembed, res);
  });

  it("refuses an answer with an undeclared status, content type or shape (the checker can fail)", () => {
    const getTrack = OPERATIONS.find((o) => o.id === "track") as Operation;
    const res = (status: number, type: string, text: string) => ({
      status,
      headers: new Headers({ "Content-Type": type }),
      text,
    });
    expect(() => checkAgainstSpec(getTrack, res(418, "application/json", "{}"))).toThrow(/not documented/);
    expect(() => checkAgainstSpec(getTrack, res(200, "text/plain", "hi"))).toThrow(/content type/);
    expect(() => checkAgainstSpec(getTrack, res(200, "application/json", '{"data":{"id":"x"}}'))).toThrow(/schema/);
    expect(() =>
      checkAgainstSpec(getTrack, res(200, "application/json", '{"data":{"id":7,"name":"a","surprise":1}}')),
    ).toThrow(/schema/);
  });
});
