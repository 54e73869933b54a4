import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { OPERATOR_KEY } from "../helpers/constants";
import { checked, expectProblem } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

// The other suites call the default export directly so they can await waitUntil work;
// these two go through the Worker as workerd itself dispatches to it.
async function viaEntry(path: string, init: RequestInit = {}) {
  const res = await exports.default.fetch(new Request(`https://proxy.test${path}`, init));
  return checked(res, await res.text());
}

it("answers an unknown path through the Worker entry with a problem+json 404", async () => {
  expectProblem(await viaEntry("/v1/nope"), 404, "not_found");
  expect(upstreamPaths()).toEqual([]);
});

it("reports health through the Worker entry without revealing the token", async () => {
  const res = await viaEntry("/healthz", { headers: { "X-Operator-Key": OPERATOR_KEY } });
  expect(res.status).toBe(200);
  expect(res.json()).toMatchObject({
    status: "ok",
    token_configured: true,
    upstream_base: "https://fake-beatpass.test/api/v1",
  });
});
