import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The typed client as a consumer gets it: `npm run build:types` writes types/client.d.ts
 * with the DOM lib only, then a consumer project (test/types/consumer: lib dom + es2022, no
 * Workers types, skipLibCheck off) compiles against it, narrowing 200 from 404.
 */
const tsc = (...args: string[]) => {
  const r = spawnSync("node_modules/.bin/tsc", args, { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe("the published client types", () => {
  it("build without Workers types, and a DOM-only consumer compiles against them", () => {
    const build = tsc("-p", "tsconfig.types.json");
    expect(build.output).toBe("");
    expect(build.status).toBe(0);
    expect(readFileSync("types/client.d.ts", "utf8")).toContain("AppType");
    const consumer = tsc("-p", "test/types/consumer/tsconfig.json");
    expect(consumer.output).toBe("");
    expect(consumer.status).toBe(0);
  });

  it("a consumer that reads a 404's body as data does not compile (the check can fail)", () => {
    // Next to the real consumer, so it resolves hono and zod the same way (git-ignored).
    const dir = "test/types/consumer";
    const source = join(dir, "wrong.tmp.ts");
    const config = join(dir, "tsconfig.wrong.tmp.json");
    try {
      writeFileSync(
        source,
        `import { hc } from "hono/client";
import type { AppType } from "beatpass-edge/client";
export async function f() {
  const res = await hc<AppType>("https://x.example").v1.tracks[":id"].$get({ param: { id: "1" }, query: {} });
  if (res.status === 404) return (await res.json()).data.name;
}
`,
      );
      writeFileSync(config, JSON.stringify({ extends: "./tsconfig.json", files: ["wrong.tmp.ts"] }));
      const wrong = tsc("-p", config);
      expect(wrong.status).not.toBe(0);
      expect(wrong.output).toMatch(/Property 'data' does not exist/);
    } finally {
      rmSync(source, { force: true });
      rmSync(config, { force: true });
    }
  });
});
