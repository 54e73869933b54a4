import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { problemSchema } from "../../src/errors";
import { upstreamPaths } from "../helpers/upstream";

// The other suites call the default export directly so they can await waitUntil work;
// these two go through the Worker as workerd itself dispatches to it.
it("answers an unknown path through the Worker entry with a problem+json 404", async () => {
  const res = await exports.default.fetch(new Request("https://proxy.test/v1/nope"));
  expect(res.status).toBe(404);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  expect(problemSchema.parse(await res.json()).code).toBe("not_found");
  expect(upstreamPaths()).toEqual([]);
});

it("reports health through the Worker entry without revealing the token", async () => {
  const res = await exports.default.fetch(new Request("https://proxy.test/healthz"));
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({
    status: "ok",
    token_configured: true,
    upstream_base: "https://fake-beatpass.test/api/v1",
  });
});
