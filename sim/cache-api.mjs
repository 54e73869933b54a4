import { SimHeaders, SimResponse } from "./response.mjs";

/**
 * One data centre's Cache API (caches.default): shared by every isolate there, local (fast),
 * free, and honouring each response's max-age. Nothing is evicted early: the simulation
 * assumes the data centre has room for this Worker's entries.
 */
export class SimCacheApi {
  #entries = new Map();
  reads = 0;
  writes = 0;

  constructor(queue, p) {
    this.queue = queue;
    this.p = p;
  }

  /** The `caches.default` object for an isolate; `deliver` as in SimKv.binding. */
  binding(deliver) {
    return {
      match: (url) => {
        this.reads++;
        const key = String(url);
        const e = this.#entries.get(key);
        const hit = e && e.expiresAt > this.queue.now ? e : undefined;
        if (e && !hit) this.#entries.delete(key);
        return deliver(this.p.cacheApiMs, () =>
          hit ? new SimResponse(hit.body, { headers: new SimHeaders(hit.headers) }) : undefined,
        );
      },
      put: (url, response) => {
        this.writes++;
        const maxAge = /max-age=(\d+)/.exec(response.headers.get("Cache-Control") ?? "")?.[1];
        const entry = {
          body: response.text_,
          headers: [...response.headers],
          expiresAt: this.queue.now + Number(maxAge ?? 0) * 1000,
        };
        return deliver(this.p.cacheApiMs, () => {
          this.#entries.set(String(url), entry);
        });
      },
    };
  }
}
