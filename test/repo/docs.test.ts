import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The repository's own words keep their promises: the README stays a five-minute read,
 * every file the documentation or a code comment points at exists, and every setting the
 * Worker reads is documented. (A clone has nothing but this repository: references to the
 * team's shared notes outside it were the bug this guards.)
 */

const MARKDOWN = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync("docs")
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** Files under these folders, recursively (source whose comments may name files). */
function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) return [];
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

describe("documentation", () => {
  it("the README is under 150 lines", () => {
    expect(readFileSync("README.md", "utf8").split("\n").length).toBeLessThan(150);
  });

  it.each(MARKDOWN)("every relative link in %s leads to a file in the repository", (file) => {
    const text = readFileSync(file, "utf8");
    const missing: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = (m[1] ?? "").split("#")[0] ?? "";
      if (!target || /^[a-z]+:/.test(target)) continue;
      if (!existsSync(normalize(join(dirname(file), target)))) missing.push(target);
    }
    expect(missing).toEqual([]);
  });

  it("every repository path a comment or document names exists", () => {
    // Paths as the code and docs write them: "src/render/layout.ts", "docs/widgets.md".
    const PATH = /(?<![\w./-])((?:src|test|docs|bench|scripts|sim|fake|raster)\/[\w./-]+\.(?:ts|mjs|md|json|toml))/g;
    // docs/style.md and docs/toolchain.md are notes about other projects (Hono's source, a
    // sample Worker) and name their files, not ours.
    const notes = new Set(["docs/style.md", "docs/toolchain.md"]);
    const sources = [
      ...MARKDOWN.filter((f) => !notes.has(f)),
      ...["src", "test", "bench", "scripts", "sim", "fake", "raster"].flatMap((d) => files(d, /\.(ts|mjs)$/)),
    ].filter((f) => !f.includes(".build"));
    const missing = new Set<string>();
    for (const file of sources) {
      for (const m of readFileSync(file, "utf8").matchAll(PATH)) {
        const path = (m[1] ?? "").replace(/[.]+$/, "");
        // Build outputs (…/.build/…) exist only once something has been built.
        if (!path.includes("/.build/") && !existsSync(path)) missing.add(`${path} (in ${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it("every var, secret and binding of the Worker's Env is in docs/configuration.md", () => {
    const env = readFileSync("src/env.ts", "utf8");
    const body = env.slice(
      env.indexOf("export interface Env {"),
      env.indexOf("}", env.indexOf("export interface Env {")),
    );
    const names = [...body.matchAll(/^\s+([A-Z][A-Z0-9_]+)\??:/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(15);
    const doc = readFileSync("docs/configuration.md", "utf8");
    expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });
});

describe("the two local modes", () => {
  // npm start (the fake BeatPass) and npm run dev (the real one) keep separate local state by
  // default; cache.test.ts checks that data cached for one base is never served for another.
  it("npm start and npm run dev persist to different state folders", () => {
    const start = /state: "([^"]+)"/.exec(readFileSync("scripts/start.mjs", "utf8"))?.[1];
    const dev = /const STATE = "([^"]+)"/.exec(readFileSync("scripts/dev.mjs", "utf8"))?.[1];
    expect(start).toBeTruthy();
    expect(dev).toBeTruthy();
    expect(start).not.toBe(dev);
  });
});
