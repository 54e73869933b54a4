// What each fleet instance runs (fleet.ts): the bundled Worker (./index.js, as wrangler built
// it) behind a door only the test uses. Nothing here changes what the Worker does; it lets the
// test do what vi does in the workerd tests: move the clock, and wait for waitUntil work.
//
// - PUT /__fleet/clock with a time (ms since the epoch) stops this isolate's Date.now() there
//   until the next PUT. The Worker and its budget keeper read time only through Date.now(), so
//   every TTL, lease and window follows it (timers such as the upstream timeout still run on
//   real time). Until the first PUT, Date.now() is the real clock.
// - GET /__fleet/settled answers once every waitUntil promise this isolate was given has
//   settled: background refreshes and KV writes are done.
//
// The keeper Durable Object is defined in edge-0 and runs in its isolate, so edge-0's clock is
// the keeper's.
import worker, { UpstreamBudget } from "./index.js";

const realNow = Date.now.bind(Date);
let frozenAt;
Date.now = () => frozenAt ?? realNow();

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

async function door(request, path) {
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
  return undefined;
}

export { UpstreamBudget };

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/__fleet/")) {
      const answer = await door(request, path);
      if (answer) return answer;
    }
    return worker.fetch(request, env, tracked(ctx));
  },
  scheduled(controller, env, ctx) {
    return worker.scheduled(controller, env, tracked(ctx));
  },
};
