import type { Handler } from "./app";
import type { Env } from "./env";

// The app (routes, zod, renderers, the OpenAPI document) is imported by the first request, not
// at load: a new isolate evaluates only this module and the Durable Object classes, and the
// deployed build (scripts/build-worker.mjs) keeps the rest in modules parsed when first used.
let handler: Handler | undefined;
let loading: Promise<Handler> | undefined;

function loadApp(): Promise<Handler> {
  loading ??= import("./app").then(
    ({ createHandler }) => {
      handler = createHandler();
      return handler;
    },
    (err) => {
      // A failed load (never seen: it is our own code) is retried by the next request.
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

// The main module exports only the handler and Durable Object classes: workerd rejects any
// other value export.
export { KeyCoordinator } from "./budget/coordinator";
export { UpstreamBudget } from "./budget/keeper";

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    if (handler) return handler(request, env, ctx);
    return loadApp().then((h) => h(request, env, ctx));
  },
  async scheduled(_controller, env, ctx) {
    const { refreshAhead } = await import("./scheduled");
    await refreshAhead(env, ctx);
  },
} satisfies ExportedHandler<Env>;
