import { rmSync } from "node:fs";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { bundle } from "../../bench/lib.mjs";

/**
 * Bundles the Worker once per test run, the way `wrangler deploy` would (bench/lib.mjs),
 * into test/fleet/.build/; every fleet in every file runs that one bundle.
 */
export const BUILD_DIR = "test/fleet/.build";

export default function setup(project: TestProject) {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const { file } = bundle(BUILD_DIR);
  project.provide("fleetBundle", resolve(file));
}

declare module "vitest" {
  export interface ProvidedContext {
    fleetBundle: string;
  }
}
