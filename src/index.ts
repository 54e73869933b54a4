import { createApp } from "./app";
import type { Env } from "./env";
import { refreshAhead } from "./scheduled";

const app = createApp();

// The main module exports only the handler and Durable Object classes: workerd rejects any
// other value export.
export { KeyCoordinator } from "./budget/coordinator";
export { UpstreamBudget } from "./budget/keeper";

export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    await refreshAhead(env, ctx);
  },
} satisfies ExportedHandler<Env>;
