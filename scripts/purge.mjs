import { createHmac } from "node:crypto";

/**
 * Signs and sends a purge: `npm run purge -- track:123 artist:7`.
 * Needs PURGE_WEBHOOK_SECRET in the environment and the Worker's URL in PURGE_URL
 * (default http://127.0.0.1:8787, i.e. `npm start`).
 */
const resources = process.argv.slice(2);
const secret = process.env.PURGE_WEBHOOK_SECRET;
const base = process.env.PURGE_URL ?? "http://127.0.0.1:8787";
if (resources.length === 0) {
  console.error(
    "usage: npm run purge -- track:123 [artist:7 ...]  (PURGE_WEBHOOK_SECRET and PURGE_URL in the environment)",
  );
  process.exit(2);
}
if (!secret) {
  console.error("PURGE_WEBHOOK_SECRET is not set.");
  process.exit(2);
}

const body = JSON.stringify({ resources });
const t = Math.floor(Date.now() / 1000);
const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
const res = await fetch(`${base.replace(/\/$/, "")}/hooks/purge`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "BeatPass-Edge-Signature": `t=${t},v1=${v1}` },
  body,
});
console.log(res.status, await res.text());
process.exit(res.ok ? 0 : 1);
