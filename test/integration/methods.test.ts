import { describe, expect, it } from "vitest";
import { call, expectProblem } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

describe("unknown paths and write methods never reach BeatPass", () => {
  it.each([
    "/v1/nope",
    "/v1",
    "/v1/tracks/1/download",
    "/v1/tracks/1/comments",
    "/v1/purchases",
    "/api/v1/tracks/1",
    "/v1/tracks/1/",
  ])("GET %s -> 404 not_found", async (path) => {
    const res = await call(path);
    expectProblem(res, 404, "not_found");
    expect(upstreamPaths()).toEqual([]);
  });

  it.each([
    ["POST", "/v1/tracks"],
    ["PUT", "/v1/tracks/1"],
    ["PATCH", "/v1/albums/1"],
    ["DELETE", "/v1/tracks/1"],
    ["POST", "/v1/search"],
    ["DELETE", "/v1/users/2"],
    ["POST", "/healthz"],
    ["PROPFIND", "/v1/genres"],
  ])("%s %s -> 405 method_not_allowed with Allow", async (method, path) => {
    const res = await call(path, { method, body: method === "PROPFIND" ? null : '{"name":"x"}' });
    expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("Allow")).toBe("GET, HEAD, OPTIONS");
    expect(upstreamPaths()).toEqual([]);
  });

  it("a write method on an unknown path is a 404, still without an upstream request", async () => {
    expectProblem(await call("/v1/tracks/1/purchase/initiate", { method: "POST" }), 404, "not_found");
    expect(upstreamPaths()).toEqual([]);
  });

  it("OPTIONS on a known path answers 204 with Allow", async () => {
    const res = await call("/v1/tracks/1", { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("Allow")).toBe("GET, HEAD, OPTIONS");
    expect(upstreamPaths()).toEqual([]);
  });
});
