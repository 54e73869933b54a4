import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";

/**
 * Limits Cloudflare puts on the configuration (docs/development.md, "Platform limits the
 * local runtime does not enforce"), stated here rather than left to wrangler's validation
 * (4.164 checks the rate-limit period when it reads the file; an upgrade that stops must not
 * drop the rule). Read through wrangler's parser, per environment, as a deploy sees it.
 */

// https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/: "period" must be 10 or 60 seconds.
const RATE_LIMIT_PERIODS = [10, 60];

const CONFIG = "wrangler.toml";
// Bindings are not inherited by [env.*]: each environment is checked on its own.
const ENVIRONMENTS = [
  undefined,
  ...[...readFileSync(CONFIG, "utf8").matchAll(/^\[env\.([A-Za-z0-9_-]+)\]/gm)].map((m) => m[1] as string),
];

describe("wrangler.toml", () => {
  it("names the deployed environments", () => {
    expect(ENVIRONMENTS).toEqual([undefined, "staging", "production"]);
  });

  it.each(ENVIRONMENTS.map((e) => [e ?? "top level", e]))(
    "%s: every rate limit binding has a period Workers Rate Limiting accepts (10 or 60 s)",
    (_, environment) => {
      const ratelimits = unstable_readConfig({ config: CONFIG, env: environment }).ratelimits;
      expect(ratelimits.length).toBeGreaterThan(0);
      for (const rl of ratelimits) {
        expect(RATE_LIMIT_PERIODS, `${rl.name} period`).toContain(rl.simple.period);
        expect(Number.isInteger(rl.simple.limit) && rl.simple.limit > 0, `${rl.name} limit`).toBe(true);
      }
    },
  );
});
