import { createHash, randomBytes } from "node:crypto";
import { kv, parseFlags } from "./wrangler-kv.mjs";

/**
 * API keys for server-to-server callers (see src/clients/api-keys.ts for the format).
 *
 *   npm run key:create -- --name "Acme bot" --tier standard [--expires 2027-06-30]
 *   npm run key:list
 *   npm run key:revoke -- --id 3fa1c2d4e5b6
 *
 * Add --remote [--env production] to act on the deployed namespace instead of local
 * storage. The key itself is printed once by create and stored nowhere: only its SHA-256.
 * The record is stored as the value (what the Worker reads) and again as the entry's
 * metadata, so list and revoke read every record from one `wrangler kv key list` instead of
 * starting one wrangler per key.
 */
const PREFIX = "v1:meta:apikey:";
const TIERS = ["standard", "partner"];
const [command, ...argv] = process.argv.slice(2);
const { flags } = parseFlags(argv);

const die = (msg) => {
  console.error(msg);
  process.exit(2);
};

if (command === "create") {
  const name = flags.name;
  const tier = flags.tier ?? "standard";
  if (typeof name !== "string" || name.length < 2 || name.length > 100)
    die("--name NAME (2-100 characters) is required");
  if (!TIERS.includes(tier)) die(`--tier must be one of ${TIERS.join(", ")}`);
  let expires = null;
  if (flags.expires) {
    const t = Date.parse(String(flags.expires));
    if (Number.isNaN(t) || t <= Date.now()) die("--expires must be a future date, e.g. 2027-06-30");
    expires = new Date(t).toISOString();
  }
  const key = `bpe_${randomBytes(32).toString("base64url")}`;
  const hash = createHash("sha256").update(key).digest("hex");
  const record = {
    id: hash.slice(0, 12),
    hash,
    name,
    tier,
    created_at: new Date().toISOString(),
    expires_at: expires,
    revoked_at: null,
  };
  putRecord(`${PREFIX}${hash}`, record);
  console.log(`Created key ${record.id} "${name}" (${tier}${expires ? `, expires ${expires}` : ""}).`);
  console.log("Give this to the client now; it is not stored and cannot be shown again:\n");
  console.log(`  ${key}\n`);
} else if (command === "list") {
  const keys = JSON.parse(kv(["key", "list", "--prefix", PREFIX], flags));
  if (keys.length === 0) console.log("No API keys.");
  else {
    const rows = keys
      .map(readRecord)
      .map((r) => [
        r.id,
        r.tier,
        r.revoked_at ? "revoked" : r.expires_at && Date.parse(r.expires_at) <= Date.now() ? "expired" : "active",
        day(r.created_at),
        day(r.expires_at) || "never",
        day(r.revoked_at),
        r.name,
      ]);
    table([["ID", "TIER", "STATE", "CREATED", "EXPIRES", "REVOKED", "NAME"], ...rows]);
  }
} else if (command === "revoke") {
  const id = flags.id;
  if (typeof id !== "string" || !/^[0-9a-f]{12}$/.test(id)) die("--id <12 hex digits, from key:list> is required");
  const matches = JSON.parse(kv(["key", "list", "--prefix", `${PREFIX}${id}`], flags));
  if (matches.length !== 1) die(`No key with id ${id}.`);
  const r = readRecord(matches[0]);
  r.revoked_at = new Date().toISOString();
  putRecord(matches[0].name, r);
  console.log(`Revoked ${id} "${r.name}". Isolates that remembered it stop accepting it within a minute.`);
} else {
  die(
    "usage: keys.mjs create --name NAME --tier standard|partner [--expires DATE] | list | revoke --id ID  [--remote] [--env ENV]",
  );
}

/** The date part of an ISO timestamp ("" for none). */
function day(iso) {
  return iso ? String(iso).slice(0, 10) : "";
}

/** Columns padded to their widest cell; the last one (the name) left free. */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows)
    console.log(r.map((cell, i) => (i < r.length - 1 ? String(cell).padEnd(widths[i]) : cell)).join("  "));
}

function putRecord(name, record) {
  const json = JSON.stringify(record);
  kv(["key", "put", name, json, "--metadata", json], flags);
}

/** From the listing's metadata; keys created before records were mirrored there need a get. */
function readRecord(entry) {
  return entry.metadata ?? JSON.parse(kv(["key", "get", entry.name, "--text"], flags));
}
