import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { wranglerDevArgs } from "./wrangler-dev.mjs";
import { QUIET } from "./wrangler-kv.mjs";

/**
 * `npm run dev`: the proxy (and its PNG rasteriser) under wrangler dev against the real
 * BeatPass, with the token from .dev.vars. Its local state (KV, the keeper, Cache API) lives
 * in .wrangler/dev-state, apart from `npm start`'s .wrangler/start-state, and cached data is
 * namespaced by BEATPASS_API_BASE besides (src/cache/namespace.ts): the fake's data can
 * never be served as BeatPass's. wrangler is kept off the network as in `npm start`.
 */
const PORT = process.env.PORT ?? "8787";
const STATE = ".wrangler/dev-state";

const tokenIn = (file) => /^BEATPASS_TOKEN=(.*)$/m.exec(readFileSync(file, "utf8"))?.[1]?.trim();
if (!existsSync(".dev.vars")) {
  console.warn(
    "No .dev.vars: copy .dev.vars.example to .dev.vars and paste your BeatPass token (npm start needs none).",
  );
} else {
  const token = tokenIn(".dev.vars");
  if (!token || token === tokenIn(".dev.vars.example"))
    console.warn(
      "BEATPASS_TOKEN in .dev.vars is still the example value: paste your token, or BeatPass refuses every request.",
    );
}

const args = process.argv.slice(2);
const wrangler = spawn(process.execPath, wranglerDevArgs({ port: PORT, state: STATE, userArgs: args }), {
  stdio: "inherit",
  env: { ...process.env, ...QUIET },
});
wrangler.on("exit", (code) => process.exit(code ?? 0));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => wrangler.kill(signal));
