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
  const body = await res.json();
  const name: string = body.data.name;
  const bpm: number | null | undefined = body.data.bpm;
  expect(name).toBe("Midnight Run");
  expect(bpm).toBeTypeOf("number");

  const list = await (await client.v1.tracks.$get({ query: { per_page: "2" } })).json();
  expect(list.data).toHaveLength(2);
  expect(list.pagination.per_page).toBe(2);
});
