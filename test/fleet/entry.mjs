// What each fleet instance runs (fleet.ts): the bundled Worker (./index.js, as wrangler built
// it) behind a door only the test uses. Nothing here changes what the Worker decides; it lets
// the test do what vi does in the workerd tests, and play what one miniflare cannot:
//
// - PUT /__fleet/clock with a time (ms since the epoch) stops this isolate's Date.now() there
//   until the next PUT. The Worker, its keeper and coordinators read time only through
//   Date.now(), so every TTL, lease and window follows it (timers such as the upstream timeout
//   still run on real time). Until the first PUT, Date.now() is the real clock.
// - GET /__fleet/settled answers once every waitUntil promise this isolate was given has
//   settled: background refreshes and KV writes are done.
// - PUT /__fleet/keeper with "down" or "up": while down, every call this isolate makes to the
//   budget keeper fails at once, as when the object cannot be reached.
// - KV as a deployment sees it: each instance has its own namespace; its writes are passed to
//   the KV_REPLICA service (fleet.ts), which copies them into the other instances' namespaces
//   after the fleet's KV lag (POST /__fleet/kv on each), so one instance sees another's write
//   only later.
//
// The keeper and the coordinators are defined in edge-0 and run in its isolate, so edge-0's
// clock is theirs.
import worker, { KeyCoordinator as Coordinator, UpstreamBudget as Keeper } from "./index.js";

const realNow = Date.now.bind(Date);
let frozenAt;
Date.now = () => frozenAt ?? realNow();
let keeperDown = false;

const pending = new Set();
function tracked(ctx) {
  return {
    waitUntil(promise) {
      const settled = Promise.resolve(promise).then(
        () => pending.delete(settled),
        () => pending.delete(settled),
      );
      pending.add(settled);
      ctx.waitUntil(promise);
    },
    passThroughOnException: () => ctx.passThroughOnException(),
    get props() {
      return ctx.props;
    },
  };
}

/** This instance's KV, its writes told to the replica service (the other instances see them later). */
function replicated(kv, replica) {
  if (!replica) return kv;
  const tell = (op) =>
    replica.fetch("http://kv-replica/", { method: "POST", body: JSON.stringify(op) }).then((r) => r.arrayBuffer());
  return {
    get: (...args) => kv.get(...args),
    getWithMetadata: (...args) => kv.getWithMetadata(...args),
    list: (...args) => kv.list(...args),
    async put(key, value, options) {
      await kv.put(key, value, options);
      await tell({ op: "put", key, value: String(value), options });
    },
    async delete(key) {
      await kv.delete(key);
      await tell({ op: "delete", key });
    },
  };
}

/** The keeper's binding as this isolate sees it: failing at once while the test says it is down. */
function keeperBinding(ns) {
  if (!ns) return ns;
  const down = new Proxy(
    {},
    { get: (_, m) => (m === "then" ? undefined : () => Promise.reject(new Error("keeper down"))) },
  );
  return {
    idFromName: (name) => ns.idFromName(name),
    get: (id) => (keeperDown ? down : ns.get(id)),
  };
}

const envs = new WeakMap();
function fleetEnv(env) {
  let wrapped = envs.get(env);
  if (!wrapped) {
    wrapped = {
      ...env,
      BEATPASS_CACHE: replicated(env.BEATPASS_CACHE, env.KV_REPLICA),
      UPSTREAM_BUDGET: keeperBinding(env.UPSTREAM_BUDGET),
    };
    envs.set(env, wrapped);
  }
  return wrapped;
}

async function door(request, path, env) {
  if (path === "/__fleet/clock" && request.method === "PUT") {
    const at = Number(await request.text());
    if (!Number.isFinite(at)) return new Response("a time in ms since the epoch", { status: 400 });
    frozenAt = at;
    return new Response(null, { status: 204 });
  }
  if (path === "/__fleet/settled") {
    while (pending.size > 0) await Promise.all([...pending]);
    return new Response(null, { status: 204 });
  }
  if (path === "/__fleet/kv" && request.method === "POST") {
    // Another instance's write reaching this one's KV (fleet.ts replicates after the lag).
    const op = await request.json();
    if (op.op === "delete") await env.BEATPASS_CACHE.delete(op.key);
    else await env.BEATPASS_CACHE.put(op.key, op.value ?? "", op.options);
    return new Response(null, { status: 204 });
  }
  if (path === "/__fleet/keeper" && request.method === "PUT") {
    keeperDown = (await request.text()) === "down";
    return new Response(null, { status: 204 });
  }
  return undefined;
}

// The objects keep their own env: their KV writes (the purge record) are replicated too.
export class UpstreamBudget extends Keeper {
  constructor(ctx, env) {
    super(ctx, { ...env, BEATPASS_CACHE: replicated(env.BEATPASS_CACHE, env.KV_REPLICA) });
  }
}
export class KeyCoordinator extends Coordinator {}

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/__fleet/")) {
      const answer = await door(request, path, env);
      if (answer) return answer;
    }
    return worker.fetch(request, fleetEnv(env), tracked(ctx));
  },
  scheduled(controller, env, ctx) {
    return worker.scheduled(controller, fleetEnv(env), tracked(ctx));
  },
};
