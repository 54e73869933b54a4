import { describe, expect, it, vi } from "vitest";
import { OPERATOR_KEY } from "../helpers/constants";
import { createKey, randomKey } from "../helpers/keys";
import { hmac, signedPurge } from "../helpers/purge";
import { call, expectProblem } from "../helpers/request";

/**
 * Every secret a caller presents (purge signature, operator key, API key) is compared in
 * constant time. How long a comparison takes cannot be observed from a test, so this watches
 * the one primitive that promises it: each check must hand both sides to
 * crypto.subtle.timingSafeEqual, and its answer must be what decides. A plain `===` or an
 * early exit on the first differing byte would leave the primitive uncalled.
 */
const SECRET = "purge-secret-for-tests-0123456789abcdef";
const hex = (bytes: ArrayBufferView | ArrayBuffer) =>
  [...new Uint8Array(bytes instanceof ArrayBuffer ? bytes : bytes.buffer)].map((b) => b.toString(16).padStart(2, "0"));
const utf8 = (s: string) => hex(new TextEncoder().encode(s));
const sha256 = async (s: string) => hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));

function watchComparisons() {
  const seen: { a: string[]; b: string[]; result: boolean }[] = [];
  const real = crypto.subtle.timingSafeEqual.bind(crypto.subtle);
  vi.spyOn(crypto.subtle, "timingSafeEqual").mockImplementation((a, b) => {
    const result = real(a, b);
    seen.push({ a: hex(a), b: hex(b), result });
    return result;
  });
  return seen;
}

describe("secrets are compared in constant time", () => {
  it("the purge webhook compares the signature it computed with the one presented", async () => {
    const seen = watchComparisons();
    const body = JSON.stringify({ resources: ["track:1"] });
    const t = Math.floor(Date.now() / 1000);
    const right = await hmac(SECRET, `${t}.${body}`);
    // Same length and alphabet as the right one, differing in the last character only.
    const wrong = `${right.slice(0, -1)}${right.endsWith("0") ? "1" : "0"}`;
    const refused = await call("/hooks/purge", await signedPurge(SECRET, body, { header: `t=${t},v1=${wrong}` }), {
      PURGE_WEBHOOK_SECRET: SECRET,
    });
    expectProblem(refused, 401, "invalid_signature");
    expect(seen).toEqual([{ a: utf8(right), b: utf8(wrong), result: false }]);

    seen.length = 0;
    const accepted = await call("/hooks/purge", await signedPurge(SECRET, body, { t }), {
      PURGE_WEBHOOK_SECRET: SECRET,
    });
    expect(accepted.status).toBe(200);
    expect(seen).toEqual([{ a: utf8(right), b: utf8(right), result: true }]);
  });

  it("/healthz compares digests of the operator key and of what was presented", async () => {
    const seen = watchComparisons();
    const guess = `${OPERATOR_KEY}x`;
    const anonymous = await call("/healthz", { headers: { "X-Operator-Key": guess } });
    expect(anonymous.json()).toEqual({ status: "ok" });
    expect(seen).toEqual([{ a: await sha256(OPERATOR_KEY), b: await sha256(guess), result: false }]);

    seen.length = 0;
    const operator = await call("/healthz", { headers: { "X-Operator-Key": OPERATOR_KEY } });
    expect(operator.json()).toHaveProperty("token_configured", true);
    expect(seen).toEqual([{ a: await sha256(OPERATOR_KEY), b: await sha256(OPERATOR_KEY), result: true }]);
  });

  it("an API key's hash is compared with the stored record's", async () => {
    const key = await createKey();
    const seen = watchComparisons();
    const res = await call("/v1/genres", { headers: { "X-Api-Key": key } });
    expect(res.status).toBe(200);
    const stored = utf8(hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))).join(""));
    expect(seen).toEqual([{ a: stored, b: stored, result: true }]);

    // An unknown key has no record to compare with: refused before any comparison.
    seen.length = 0;
    expectProblem(await call("/v1/genres", { headers: { "X-Api-Key": randomKey() } }), 401, "invalid_api_key");
    expect(seen).toEqual([]);
  });
});
