import { createFakeBeatpass, type FakeFault } from "../../fake/beatpass.mjs";
import { CANARY_TOKEN, FAKE_API_BASE } from "./constants";

/**
 * The fake BeatPass every workerd test talks to. test/setup.ts routes the Worker's
 * outbound fetches for FAKE_API_BASE's host here and fails the test on any other host.
 */
export const fake = createFakeBeatpass({ token: CANARY_TOKEN, imageBase: "https://fake-beatpass.test/images" });
export const FAKE_HOST = new URL(FAKE_API_BASE).host;

export type { FakeFault };

/** Upstream requests seen so far (API paths only, without the /api/v1 prefix). */
export function upstreamPaths(): string[] {
  return fake.requests.map((r) => r.path.replace(/^\/api\/v1/, ""));
}
