import { Hono } from "hono";

/**
 * The bare Hono Worker the startup rows compare against (bench/cold.mjs): the same hono as
 * the Worker's, bundled by wrangler with the Worker's compatibility settings and minification.
 */
export default new Hono().get("/", (c) => c.text("ok"));
