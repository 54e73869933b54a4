/**
 * Purge webhook requests signed as README "Purge" describes, with HMAC computed here rather
 * than with the Worker's own helper: the header, its format and the algorithm written out.
 */
export const SIGNATURE_HEADER = "BeatPass-Edge-Signature";

/** HMAC-SHA256 in hex. */
export async function hmac(secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A POST of `body` signed with `secret` at `t` (default now); `header` replaces the signature header. */
export async function signedPurge(
  secret: string,
  body: string,
  opts: { t?: number; header?: string } = {},
): Promise<{ method: string; body: string; headers: Record<string, string> }> {
  const t = opts.t ?? Math.floor(Date.now() / 1000);
  const sig = await hmac(secret, `${t}.${body}`);
  return {
    method: "POST",
    body,
    headers: { [SIGNATURE_HEADER]: opts.header ?? `t=${t},v1=${sig}`, "Content-Type": "application/json" },
  };
}
