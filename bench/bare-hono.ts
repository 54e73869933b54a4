import { Hono } from "hono";

/**
 * The bare Hono Worker the startup rows compare against (bench/cold.mjs): the same hono as
 * the Worker's, bundled by wrangler with the Worker's compatibility settings and minification.
 * It also declares the Worker's two Durable Object classes, empty, so that one start row can
 * give it exactly our bindings: that row's ratio is then our code's alone.
 */
export class UpstreamBudget {}
export class KeyCoordinator {}

export default new Hono().get("/", (c) => c.text("ok"));
