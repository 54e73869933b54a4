import { registerHooks } from "node:module";

/**
 * The bundle imports `cloudflare:workers` (for the budget keeper's DurableObject base class),
 * which only workerd provides. The Node-side measurements (cpu.mjs, startup.mjs) never run the
 * keeper, so the import resolves to this stand-in: import this module before the bundle.
 */
const STUB = `export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }`;

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "cloudflare:workers") return { url: "stub:cloudflare-workers", shortCircuit: true };
    return next(specifier, context);
  },
  load(url, context, next) {
    if (url === "stub:cloudflare-workers") return { format: "module", source: STUB, shortCircuit: true };
    return next(url, context);
  },
});
