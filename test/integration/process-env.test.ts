import { env } from "cloudflare:test";
import process from "node:process";
import { describe, expect, it } from "vitest";
import { CANARY_TOKEN } from "../helpers/constants";

// From compatibility date 2026-08-04 nodejs_compat is on by default and copies every secret
// and var into process.env, where any dependency could read the token. wrangler.toml turns
// that off (nodejs_compat_do_not_populate_process_env); these tests run in the same isolate,
// under the same flags, as the Worker.

describe("process.env", () => {
  it("holds neither the token nor any other binding's value", () => {
    const stringBindings = Object.entries(env).filter(([, v]) => typeof v === "string" && v.length > 0);
    // The sweep means something only if the isolate has secrets and vars to leak.
    expect(stringBindings.map(([k]) => k)).toEqual(expect.arrayContaining(["BEATPASS_TOKEN", "BEATPASS_API_BASE"]));

    const names = Object.keys(process.env);
    const values = Object.values(process.env).map(String);
    for (const [name, value] of stringBindings) {
      expect(names, `process.env.${name}`).not.toContain(name);
      expect(values, `${name}'s value`).not.toContain(value);
    }
    expect(values.join("\n")).not.toContain(CANARY_TOKEN);
  });
});
