import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { hc } from "hono/client";
import { expect, it } from "vitest";
import type { AppType } from "../../src/app";
import worker from "../../src/index";
import { checked } from "../helpers/request";

// Compiles only if AppType describes the routes: tsc checks this file with the rest.
it("a typed hono/client reaches the Worker and gets typed data", async () => {
  const client = hc<AppType>("https://proxy.test", {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(input, init), env, ctx);
      const text = await res.text();
      await waitOnExecutionContext(ctx);
      checked(res, text); // the same promises as every other response of the suite
      return new Response(text, res);
    },
  });
  const res = await client.v1.tracks[":id"].$get({ param: { id: "1" }, query: { with: "tags" } });
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}`);
  const body = await res.json();
  const name: string = body.data.name;
  const bpm: number | null | undefined = body.data.bpm;
  expect(name).toBe("Midnight Run");
  expect(bpm).toBeTypeOf("number");

  const listRes = await client.v1.tracks.$get({ query: { per_page: "2" } });
  if (listRes.status !== 200) throw new Error(`expected 200, got ${listRes.status}`);
  const list = await listRes.json();
  expect(list.data).toHaveLength(2);
  expect(list.pagination.per_page).toBe(2);
});

// Answers are a union by status: a 404 narrows to the problem body (and has no `data`).
it("a typed client's 404 narrows to the problem body", async () => {
  const client = hc<AppType>("https://proxy.test", {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(input, init), env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
  });
  const res = await client.v1.tracks[":id"].$get({ param: { id: "99999" }, query: {} });
  expect(res.status).toBe(404);
  if (res.status === 404) {
    const problem = await res.json();
    const code: string = problem.code;
    expect(code).toBe("not_found");
    // @ts-expect-error a problem body has no `data`
    expect(problem.data).toBeUndefined();
  }
});
