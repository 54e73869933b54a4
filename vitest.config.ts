import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { CANARY_TOKEN, FAKE_API_BASE } from "./test/helpers/constants.ts";

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
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
          setupFiles: ["./test/setup.ts"],
          restoreMocks: false,
        },
      },
      {
        // End-to-end: the README's `npm start` stack (wrangler dev + fake BeatPass) on loopback.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // One wrangler dev at a time: the machine has two cores.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
