import { dirname, join } from "node:path";
import { bundleModules, cpuMicros, median, startWorker } from "./lib.mjs";

/**
 * CPU per request inside workerd itself. workerd freezes a Worker's clocks while it runs, so
 * it cannot time itself; instead a driver Worker, in the same isolate as the bundle, calls
 * the bundle's fetch `n` times within one request, and the workerd process's CPU time (from
 * /proc) is divided by `n`. No sockets, no HTTP parsing, no load generator: what is left is
 * the handler, the Request/Response objects and the runtime calls they make. A fixed-string
 * Worker measured the same way is the floor. Means only: per-request spread comes from
 * bench/cpu.mjs.
 */
const DRIVER = `import target from "./target.js";
export default {
  async fetch(req, env, ctx) {
    const u = new URL(req.url);
    const n = Number(u.searchParams.get("n"));
    const url = "https://edge.bench" + u.searchParams.get("path");
    const headers = { "CF-Connecting-IP": "192.0.2.1" };
    for (let i = 0; i < n; i++) {
      const res = await target.fetch(new Request(url, { headers }), env, ctx);
      await res.arrayBuffer();
      if (res.status !== 200) return new Response("status " + res.status, { status: 500 });
    }
    return new Response("ok");
  },
};`;

// The Worker's Durable Objects are declared on the main module: the driver passes them on.
const OBJECTS = `export { KeyCoordinator, UpstreamBudget } from "./target.js";`;

export async function cpuInIsolate({ file, script, port, bindings, paths, keeper = false, n = 20000, rounds = 5 }) {
  // A bundle is its entry and the modules it imports (scripts/build-worker.mjs): the driver
  // sits beside the entry; an inline script is the one module target.js.
  const driver = (DRIVER + (keeper ? `\n${OBJECTS}` : "")).replaceAll(
    "./target.js",
    file ? "./index.js" : "./target.js",
  );
  const w = await startWorker({
    modules: file
      ? [{ type: "ESModule", path: join(dirname(file), "driver.mjs"), contents: driver }, ...bundleModules(file)]
      : [
          { type: "ESModule", path: "driver.mjs", contents: driver },
          { type: "ESModule", path: "target.js", contents: script },
        ],
    port,
    bindings,
    keeper,
  });
  try {
    const out = {};
    for (const path of paths) {
      const run = async (count) => {
        const res = await fetch(`${w.url}/?n=${count}&path=${encodeURIComponent(path)}`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${path}: ${text}`);
      };
      await run(2000);
      const us = [];
      for (let i = 0; i < rounds; i++) {
        const before = cpuMicros(w.pids);
        await run(n);
        us.push((cpuMicros(w.pids) - before) / n);
      }
      out[path] = median(us);
    }
    return out;
  } finally {
    await w.mf.dispose();
  }
}
