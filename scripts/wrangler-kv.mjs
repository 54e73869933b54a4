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
  if (res.status !== 0) fail(flags, `${res.stderr ?? ""}${res.stdout ?? ""}`);
  return res.stdout;
}

// wrangler's terminal colours (ESC [ ... m), stripped from the line shown.
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

// What wrangler says when it has no Cloudflare credentials (interactive or not).
const NO_LOGIN = /CLOUDFLARE_API_TOKEN|not authenticated|wrangler login|not logged in/i;

/** Ends the script with one sentence an operator can act on: no stack trace. */
function fail(flags, output) {
  if (flags.remote && NO_LOGIN.test(output)) {
    console.error(
      "Not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then repeat the command.",
    );
  } else {
    // wrangler's own first error line, without its colours and log-file footer.
    const plain = output.replace(ANSI_COLOUR, "");
    const line = plain.split("\n").find((l) => /ERROR|error/.test(l)) ?? plain.trim().split("\n")[0] ?? "";
    console.error(`wrangler kv failed: ${line.replace(/^.*?\[ERROR\]\s*/, "").trim() || "no output"}`);
  }
  process.exit(1);
}
