import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { send } from "./send";

export const READ_METHODS = "GET, HEAD, OPTIONS";

/**
 * Registers the non-GET answers for a known path: OPTIONS gets 204 with Allow, every other
 * method a 405 problem. Register after the GET handler. Nothing here can reach BeatPass:
 * this Worker never writes upstream (BeatPass has no sandbox; every write is real).
 */
export function readOnly(app: Hono<AppEnv>, path: string): void {
  app.all(path, (c) => {
    if (c.req.method === "OPTIONS") {
      return send(c, null, 204, { Allow: READ_METHODS, "Cache-Control": "public, max-age=86400" });
    }
    throw new ApiError("method_not_allowed", "Only GET and HEAD are allowed; this proxy never writes to BeatPass.", {
      headers: { Allow: READ_METHODS },
    });
  });
}
