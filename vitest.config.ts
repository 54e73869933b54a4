import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildRaster } from "./raster/build.mjs";
import { CANARY_TOKEN, FAKE_API_BASE, OPERATOR_KEY } from "./test/helpers/constants.ts";

// The PNG rasteriser runs beside the Worker under test as the Worker its RASTER binding names.
const raster = buildRaster(".build/raster");

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and integration tests run inside workerd, against the fake BeatPass via a fetch mock.
        plugins: [
          cloudflareTest({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // Overrides .dev.vars and wrangler.toml: tests never see a real token or the real API.
            miniflare: {
              bindings: {
                BEATPASS_TOKEN: CANARY_TOKEN,
                BEATPASS_API_BASE: FAKE_API_BASE,
                IMAGE_HOSTS: "fake-beatpass.test,beatpass.ca,*.beatpass.ca",
                OPERATOR_KEY,
                // A busy machine may take over a second to answer a local Durable Object call;
                // tests of a slow or absent keeper set their own, short timeout.
                UPSTREAM_BUDGET_TIMEOUT_MS: "10000",
              },
              workers: [{ name: "beatpass-edge-raster", compatibilityDate: "2026-11-01", ...raster }],
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
          // jpeg-js (the fake's photo covers, fake/photo.mjs) is CommonJS: bundled for workerd
          // by the optimizer, or its require() fails there.
          deps: { optimizer: { ssr: { enabled: true, include: ["jpeg-js"] } } },
          setupFiles: ["./test/setup.ts"],
          restoreMocks: false,
          // Margins for a loaded machine (tests here take well under 1 s idle); the few heavy
          // tests set their own, larger budgets.
          testTimeout: 15_000,
          hookTimeout: 15_000,
        },
      },
      {
        // End-to-end: the README's `npm start` stack (wrangler dev + fake BeatPass) on loopback.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          exclude: ["test/e2e/raster*.test.ts"],
          environment: "node",
          // One `npm start` stack shared by every file (global-setup.ts); files run one after
          // the other against it.
          globalSetup: ["./test/e2e/global-setup.ts"],
          fileParallelism: false,
          // Each test spawns at most a few wrangler or Chromium processes, seconds each idle.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The rasteriser's PNG encoder, drawing and shrunk covers, in Node with the same resvg
        // WebAssembly: no stack to start (they live beside the e2e decoder they share).
        test: { name: "raster", include: ["test/e2e/raster*.test.ts"], environment: "node" },
      },
      {
        // The typed client as a consumer compiles it (tsc, no Workers types).
        test: {
          name: "types",
          include: ["test/types/**/*.test.ts"],
          environment: "node",
          // Two or three tsc runs, seconds each on a busy machine (the build in beforeAll too).
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The repository's documentation against the repository itself.
        test: { name: "repo", include: ["test/repo/**/*.test.ts"], environment: "node" },
      },
      {
        // The fleet simulation's own machinery (sim/): event queue, storage models.
        test: {
          name: "sim",
          include: ["test/sim/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // Deployment-wide promises: several instances of the bundled Worker in one miniflare,
        // sharing one KV namespace and the one budget keeper (test/fleet/fleet.ts).
        test: {
          name: "fleet",
          include: ["test/fleet/**/*.test.ts"],
          environment: "node",
          // One bundle for every file (global-setup.ts); one miniflare at a time, so files
          // run one after the other.
          globalSetup: ["./test/fleet/global-setup.ts"],
          fileParallelism: false,
          // Each test starts a miniflare of 3 workerd services (seconds on a busy machine) and
          // sends hundreds of requests; one waits out a real Retry-After.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
