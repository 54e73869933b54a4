import { hc } from "hono/client";
import { describe, expect, it } from "vitest";
import type { AppType } from "../../src/client";
import { openApiFor } from "../../src/openapi";
import { OPERATOR_KEY } from "../helpers/constants";
import { call, ORIGIN } from "../helpers/request";
import { everyGetRoute } from "../types/consumer/every-route";

/**
 * hc<AppType>() against the running Worker: every GET route of the served document is called
 * through the typed client (the calls are compiled as a consumer's in test/types), and each
 * answers 200 with the content type the document gives it.
 */
type Json = Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
const doc = openApiFor(ORIGIN).doc as { paths: Json };

/** The client's requests go to the Worker entry through `call` (its checks included). */
function client(headers: Record<string, string> = {}) {
  return hc<AppType>(ORIGIN, {
    headers,
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const res = await call(`${url.pathname}${url.search}`, { method: req.method, headers: req.headers });
      return new Response(res.text || null, { status: res.status, headers: res.headers });
    },
  });
}

describe("the typed client (hc<AppType>)", () => {
  const routes = everyGetRoute(client());

  it("has a call for every GET route of the document, and none it lacks", () => {
    const documented = Object.entries(doc.paths)
      .filter(([, ops]) => ops.get)
      .map(([path]) => path);
    expect(Object.keys(routes).sort()).toEqual(documented.sort());
  });

  for (const [path, get] of Object.entries(routes)) {
    it(`GET ${path} answers 200 with a documented content type`, async () => {
      const res = await get();
      expect(res.status, await res.clone().text()).toBe(200);
      const type = (res.headers.get("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
      expect(Object.keys(doc.paths[path]?.get?.responses["200"]?.content ?? {})).toContain(type);
    });
  }

  it("types /healthz as the anonymous answer or the operator's report, and both arrive as typed", async () => {
    const anonymous = await (await client().healthz.$get()).json();
    expect(anonymous).toEqual({ status: "ok" });
    expect("token_configured" in anonymous).toBe(false);
    const operator = await (await client({ "X-Operator-Key": OPERATOR_KEY }).healthz.$get()).json();
    expect("token_configured" in operator && operator.token_configured).toBe(true);
  });
});
