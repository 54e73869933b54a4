import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { expect, inject } from "vitest";
import { bundleModules } from "../../bench/lib.mjs";
import type { FakeBeatpass } from "../../fake/beatpass.d.mts";
import { startFakeServer } from "../../fake/server.mjs";
import { COMPAT_DATE, COMPAT_FLAGS, ratelimits } from "../../scripts/wrangler-toml.mjs";
import { kvNamespace } from "../../src/cache/namespace";
import type { Problem } from "../../src/errors";
import { expectProblemResponse } from "../helpers/problem";

/**
 * A deployment in one process: N Worker instances (edge-0, edge-1, ...) of the one bundle
 * (global-setup.ts) in ONE miniflare, so they share what a deployment shares — the one budget
 * keeper and the coordinators (Durable Objects defined in edge-0, bound by the others), the
 * rate-limit counters, one data centre's coordinator — and keep apart what isolates keep
 * apart: module state, the memory tier, in-flight loads. KV is one namespace per instance,
 * each write copied to the others after `kvLagMs` (entry.mjs, KV_REPLICA), as a deployment's
 * KV shows one location's writes to the others only later. Each instance listens on its own
 * socket straight into workerd (no dev proxy), and talks only to the fake BeatPass on loopback.
 *
 * Each instance's entry is entry.mjs, a door around the bundle for the test alone: it can stop
 * the instances' clocks at a time of the test's choosing (Fleet.setClock) and wait for their
 * waitUntil work (Fleet.settled), as useClock() and call() do in the workerd tests.
 */

/** Must never appear in a response or a log line (the fake accepts it as its token). */
export const FLEET_TOKEN = "fleet-canary-5e0b7a93c1d24f88";
/** Each instance's own KV namespace (its location's view of the deployment's KV). */
const kvId = (i: number) => `fleet-beatpass-cache-${i}`;
/**
 * The name of the one keeper every isolate asks (BUDGET_OBJECT_NAME in src/budget/keeper.ts,
 * which Node cannot import: it needs cloudflare:workers). Read from the source so a rename
 * cannot leave the tests watching an object nobody uses.
 */
const KEEPER_NAME = (() => {
  const m = /export const BUDGET_OBJECT_NAME = "([^"]+)"/.exec(readFileSync("src/budget/keeper.ts", "utf8"));
  if (!m?.[1]) throw new Error("BUDGET_OBJECT_NAME not found in src/budget/keeper.ts");
  return m[1];
})();

/** The top-level [[ratelimits]] of wrangler.toml (miniflare implements them locally, shared per namespace_id). */
export const RATELIMITS = ratelimits() as Record<
  string,
  { namespace_id: string; simple: { limit: number; period: 10 | 60 } }
>;

// ---- the fake BeatPass, in this process ----

export interface UpstreamHit {
  /** API path without /api/v1, e.g. "/tracks/1". */
  path: string;
  at: number;
}

export interface Upstream {
  fake: FakeBeatpass;
  apiBase: string;
  /** Every API request that reached the fake since the last reset, in arrival order. */
  hits: UpstreamHit[];
  /** API requests that reached the fake for exactly `path` (all of them without one). */
  count(path?: string): number;
  /**
   * Holds every request for exactly `path` at the fake's door until `release()` (then they
   * are answered as usual, faults included). `arrived()` says how many are waiting or were.
   */
  hold(path: string): { arrived(): number; release(): void };
  /** Forgets requests, faults and holds. */
  reset(): void;
  close(): Promise<void>;
}

const API_PREFIX = "/api/v1";

export async function startUpstream(options: { synthesizeTracks?: boolean } = {}): Promise<Upstream> {
  // The fake's own per-minute limit stays out of the way: 429s come from injected faults only.
  const server = await startFakeServer({
    port: 0,
    token: FLEET_TOKEN,
    rateLimitPerMinute: 1_000_000,
    synthesizeTracks: options.synthesizeTracks ?? false,
  });
  const fake = server.fake as FakeBeatpass;
  const hits: UpstreamHit[] = [];
  let holds: { path: string; gate: Promise<void>; release(): void; arrived: number }[] = [];
  const answer = fake.fetch.bind(fake);
  // fake/server.mjs looks fake.fetch up per request, so this wrapper sees every request first.
  fake.fetch = async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith(`${API_PREFIX}/`)) {
      const path = pathname.slice(API_PREFIX.length);
      hits.push({ path, at: Date.now() });
      const hold = holds.find((h) => h.path === path);
      if (hold) {
        hold.arrived++;
        await hold.gate;
      }
    }
    return answer(request);
  };
  return {
    fake,
    apiBase: server.apiBase,
    hits,
    count: (path) => (path === undefined ? hits.length : hits.filter((h) => h.path === path).length),
    hold(path) {
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const h = { path, gate, release, arrived: 0 };
      holds.push(h);
      return {
        arrived: () => h.arrived,
        release: () => {
          holds = holds.filter((x) => x !== h);
          h.release();
        },
      };
    },
    reset() {
      for (const h of holds) h.release();
      holds = [];
      hits.length = 0;
      fake.reset();
    },
    close: () => {
      for (const h of holds) h.release();
      return server.close();
    },
  };
}

// ---- the fleet ----

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: () => any;
  /** The origin the instance saw (problem `type` URLs are built from it). */
  origin: string;
  /** Which instance answered. */
  instance: number;
}

export interface Fleet {
  size: number;
  upstream: Upstream;
  /** Sends `path` to instance `i`, as a client of its own (a fresh CF-Connecting-IP unless `ip` is given). */
  fetchVia(i: number, path: string, init?: RequestInit & { ip?: string }): Promise<Reply>;
  /** KV (BEATPASS_CACHE) as instance `i` sees it (default 0, where the keeper writes first). */
  kv(i?: number): Promise<Awaited<ReturnType<Miniflare["getKVNamespace"]>>>;
  /** Every instance's calls to the budget keeper fail at once while `down` (entry.mjs). */
  keeperDown(down: boolean): Promise<void>;
  /** KV writes still on their way to other instances (the lag has not passed). */
  kvInFlight(): number;
  /** An RPC stub of the budget keeper (src/budget/keeper.ts), for conditions the tests wait on. */
  keeper(): Promise<KeeperStub>;
  /** An RPC stub of a coordinator by name (`loc:local`, `key:<n>`: src/budget/coordination.ts). */
  coordinator(name: string): Promise<CoordinatorStub>;
  /**
   * Stops every instance's Date.now() at `at` (ms since the epoch) until the next call; the
   * budget keeper's too (it runs in edge-0). Before the first call the instances run on the
   * real clock. Timers (upstream and keeper timeouts) still run on real time.
   */
  setClock(at: number): Promise<void>;
  /** Once every instance has finished the waitUntil work (background refreshes, KV writes) it was given. */
  settled(): Promise<void>;
  /** Every log line the instances wrote (the keeper's included). */
  logs: string[];
  stop(): Promise<void>;
}

/** The coordinator methods tests read (src/budget/coordinator.ts). */
export interface CoordinatorStub {
  status(): Promise<{ leases: number; waiting: number; pausedUntil: number }>;
}

/**
 * The shard a key's refreshes are coordinated by (src/budget/coordination.ts, keyShard): FNV-1a
 * of the key, modulo the 16 shards docs/caching.md gives. Written out: Node cannot import the
 * module's siblings that need cloudflare:workers, and a test should not read it from src.
 */
export function keyShardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 16;
}

/** The keeper methods tests read; a view of UpstreamBudget's public surface. */
export interface KeeperStub {
  status(perMinute: number): Promise<{
    budget_per_minute: number;
    in_use: number;
    paused_until: string | null;
    active_leases: number;
    locations: number;
    capped_groups: number;
    last_hour: Record<string, number>;
  }>;
  purgesSince(since: number): Promise<Record<string, number>>;
}

export interface FleetOptions {
  upstream: Upstream;
  /** Instances (default 3). */
  size?: number;
  /** Vars on top of the fleet's defaults, for every instance. */
  vars?: Record<string, string>;
  /** How long one instance's KV write takes to reach the others (default 0: before put returns). */
  kvLagMs?: number;
}

/** Vars every fleet runs with unless a test overrides them. */
/**
 * Where the fleet stores a cache key in its shared KV: under the namespace of the upstream it
 * was started against (src/cache/namespace.ts: a local BeatPass gets its own).
 */
export function storedKey(upstream: Upstream, key: string): string {
  const ns = kvNamespace(new URL(upstream.apiBase));
  return ns ? `${ns}:${key}` : key;
}

/** Sent as X-Operator-Key to read /healthz's counters. */
export const FLEET_OPERATOR_KEY = "fleet-operator-key-0a8d2c6e4f1b3a57";

export const FLEET_VARS = {
  // A busy machine must never trip the keeper fallback or an upstream timeout: the
  // scenarios test the keeper, not those.
  UPSTREAM_BUDGET_TIMEOUT_MS: "10000",
  UPSTREAM_TIMEOUT_MS: "30000",
  // /healthz's counters are the operator's.
  OPERATOR_KEY: FLEET_OPERATOR_KEY,
};

let clientCounter = 0;
/**
 * A new simulated client: a distinct IPv4 address per call across the whole file, each in a
 * /24 of its own (the budget's fair shares group anonymous clients by /24: docs/caching.md).
 */
export function nextClientIp(): string {
  clientCounter++;
  return `10.${(clientCounter >> 8) & 255}.${clientCounter & 255}.${1 + ((clientCounter >> 16) & 127)}`;
}

/** The instances' outbound service: passes requests for the fake's origin, refuses (and logs) the rest. */
const EGRESS = "fleet-egress";
export const EGRESS_REFUSED = "fleet egress refused";
const EGRESS_SCRIPT = `export default {
  async fetch(request, env) {
    const origin = new URL(request.url).origin;
    if (origin === env.ALLOWED_ORIGIN) return fetch(request);
    console.error("${EGRESS_REFUSED}: " + origin);
    throw new Error("${EGRESS_REFUSED}: " + origin);
  },
};`;

/** The test's door around the bundle (see the file). */
const ENTRY = readFileSync("test/fleet/entry.mjs", "utf8");

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const size = options.size ?? 3;
  const bundle = inject("fleetBundle");
  const modulesRoot = dirname(bundle);
  const names = Array.from({ length: size }, (_, i) => `edge-${i}`);
  const logs: string[] = [];
  const bindings = {
    BEATPASS_TOKEN: FLEET_TOKEN,
    BEATPASS_API_BASE: options.upstream.apiBase,
    ...FLEET_VARS,
    ...options.vars,
  };
  const lag = options.kvLagMs ?? 0;
  let inFlight = 0;
  // Replication still to come when the fleet stops: cancelled, and copies under way awaited,
  // so none asks a miniflare that is being disposed (that hung dispose()).
  const lagging = new Set<ReturnType<typeof setTimeout>>();
  const copying = new Set<Promise<void>>();
  let stopping = false;
  /** Copies instance `from`'s KV write into every other instance's namespace, after the lag. */
  async function replicate(from: number, request: Request): Promise<Response> {
    const op = (await request.json()) as {
      op: "put" | "delete";
      key: string;
      value?: string;
      options?: KVNamespacePutOptions;
    };
    // Through each instance's door, over HTTP: miniflare's namespace proxies answer some calls
    // synchronously, which deadlocked against this service's own requests from workerd.
    const body = JSON.stringify(op);
    const copy = async () => {
      await Promise.all(
        urls.map(async (origin, j) => {
          if (j === from) return;
          const res = await fetch(`${origin}/__fleet/kv`, { method: "POST", body });
          await res.arrayBuffer();
        }),
      );
    };
    if (lag === 0) await copy();
    else if (!stopping) {
      inFlight++;
      const timer = setTimeout(() => {
        lagging.delete(timer);
        const done = copy()
          .catch(() => undefined)
          .finally(() => {
            inFlight--;
            copying.delete(done);
          });
        copying.add(done);
      }, lag);
      lagging.add(timer);
    }
    return new Response(null, { status: 204 });
  }
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      handleStructuredLogs: (log) => {
        logs.push(typeof log === "string" ? log : JSON.stringify(log));
      },
      workers: [
        ...names.map((name, i) => ({
          name,
          modulesRoot,
          modules: [
            // Beside the bundle, so its `import "./index.js"` finds it.
            { type: "ESModule" as const, path: join(modulesRoot, "fleet-entry.mjs"), contents: ENTRY },
            ...bundleModules(bundle),
          ],
          compatibilityDate: COMPAT_DATE,
          compatibilityFlags: COMPAT_FLAGS,
          kvNamespaces: { BEATPASS_CACHE: kvId(i) },
          serviceBindings: { KV_REPLICA: (request: Request) => replicate(i, request) },
          durableObjects: {
            UPSTREAM_BUDGET:
              i === 0
                ? { className: "UpstreamBudget", useSQLite: true }
                : { className: "UpstreamBudget", scriptName: names[0], useSQLite: true },
            COORDINATORS:
              i === 0
                ? { className: "KeyCoordinator", useSQLite: true }
                : { className: "KeyCoordinator", scriptName: names[0], useSQLite: true },
          },
          ratelimits: RATELIMITS,
          bindings,
          // Every outbound fetch goes through the egress guard: only the fake, never the network.
          outboundService: EGRESS,
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        })),
        {
          name: EGRESS,
          modules: true,
          script: EGRESS_SCRIPT,
          compatibilityDate: COMPAT_DATE,
          bindings: { ALLOWED_ORIGIN: new URL(options.upstream.apiBase).origin },
        },
      ],
    }),
  );
  let urls: string[];
  try {
    await mf.ready;
    urls = await Promise.all(names.map(async (name) => (await mf.unsafeGetDirectURL(name)).origin));
  } catch (err) {
    // A bundle that does not start (src mid-edit) must not leave workerd running.
    await mf.dispose().catch(() => undefined);
    throw err;
  }

  async function fetchVia(i: number, path: string, init: RequestInit & { ip?: string } = {}): Promise<Reply> {
    const origin = urls[i];
    if (origin === undefined) throw new Error(`no instance ${i} (fleet of ${size})`);
    const { ip, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", ip ?? nextClientIp());
    const res = await fetch(`${origin}${path}`, { ...rest, headers });
    const text = await res.text();
    return checked({
      status: res.status,
      headers: res.headers,
      text,
      json: () => JSON.parse(text),
      origin,
      instance: i,
    });
  }

  /** A request to every instance's door (entry.mjs). */
  async function door(path: string, init: RequestInit = {}): Promise<void> {
    await Promise.all(
      urls.map(async (origin) => {
        const res = await fetch(`${origin}${path}`, init);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path} on ${origin}: ${res.status}`);
      }),
    );
  }

  return {
    size,
    upstream: options.upstream,
    fetchVia,
    setClock: (at) => door("/__fleet/clock", { method: "PUT", body: String(at) }),
    settled: () => door("/__fleet/settled"),
    kv: (i = 0) => mf.getKVNamespace("BEATPASS_CACHE", names[i] as string),
    keeperDown: (down) => door("/__fleet/keeper", { method: "PUT", body: down ? "down" : "up" }),
    kvInFlight: () => inFlight,
    async keeper() {
      const ns = await mf.getDurableObjectNamespace("UPSTREAM_BUDGET", names[0]);
      return ns.get(ns.idFromName(KEEPER_NAME)) as unknown as KeeperStub;
    },
    async coordinator(name) {
      const ns = await mf.getDurableObjectNamespace("COORDINATORS", names[0]);
      return ns.get(ns.idFromName(name)) as unknown as CoordinatorStub;
    },
    logs,
    async stop() {
      stopping = true;
      for (const timer of lagging) clearTimeout(timer);
      await Promise.allSettled([...copying]);
      await mf.dispose();
      for (const line of logs) {
        expect(line, "a log line").not.toContain(FLEET_TOKEN);
        expect(line, "an outbound fetch").not.toContain(EGRESS_REFUSED);
      }
    },
  };
}

// ---- checks (test/helpers/request.ts's, for responses that crossed a socket) ----

/** What every response promises: X-Request-Id, an explicit Cache-Control, and no token. */
export function checked(reply: Reply): Reply {
  for (const [name, value] of reply.headers) {
    expect(value, `header ${name}`).not.toContain(FLEET_TOKEN);
    expect(name.toLowerCase()).not.toBe("authorization");
  }
  expect(reply.text).not.toContain(FLEET_TOKEN);
  expect(reply.text).not.toMatch(/Bearer\s/);
  expect(reply.headers.get("X-Request-Id"), "X-Request-Id on every response").toBeTruthy();
  expect(reply.headers.get("Cache-Control"), "explicit Cache-Control on every response").toBeTruthy();
  return reply;
}

/** An RFC 9457 problem with this status and code, held to the README's promises (helpers/problem.ts). */
export function expectProblem(reply: Reply, status: number, code: string): Problem {
  return expectProblemResponse(reply, status, code, reply.origin);
}

/** Polls `condition` until it holds; the deadline only bounds a hung run, it is not a timing. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  { deadlineMs = 60_000, everyMs = 50 } = {},
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * `n` requests at once, spread round-robin over the fleet's instances; answers in request order.
 * A test that fails before awaiting them stops the fleet under them: that rejection is expected
 * and must not surface as an unhandled one.
 */
export function spread(fleet: Fleet, n: number, pathOf: (k: number) => string): Promise<Reply[]> {
  const all = Promise.all(Array.from({ length: n }, (_, k) => fleet.fetchVia(k % fleet.size, pathOf(k))));
  all.catch(() => undefined);
  return all;
}
