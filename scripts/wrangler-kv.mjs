import { spawnSync } from "node:child_process";

/**
 * Runs `wrangler kv ...` against the BEATPASS_CACHE binding for the operator scripts.
 * Local storage unless --remote is given; --env and --persist-to pass through.
 */
export const QUIET = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

export function parseFlags(argv) {
  const flags = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      rest.push(a);
      continue;
    }
    const name = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) flags[name] = true;
    else {
      flags[name] = next;
      i++;
    }
  }
  return { flags, rest };
}

export function kv(args, flags, { input } = {}) {
  const where = flags.remote ? ["--remote"] : ["--local"];
  if (flags.env) where.push("--env", String(flags.env));
  if (flags["persist-to"]) where.push("--persist-to", String(flags["persist-to"]));
  const res = spawnSync(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "kv", ...args, "--binding", "BEATPASS_CACHE", ...where],
    {
      env: { ...process.env, ...QUIET },
      encoding: "utf8",
      input,
    },
  );
  if (res.status !== 0) {
    process.stderr.write(res.stderr || res.stdout);
    throw new Error(`wrangler kv ${args[0]} ${args[1]} failed`);
  }
  return res.stdout;
}
