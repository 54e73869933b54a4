/**
 * The Response the simulated runtime hands the Worker's code (the bundle's `Response` and what
 * simulated fetch and Cache API return): status, headers and a string body, readable with
 * text() or as a one-chunk stream (src/lib/read-capped.ts reads upstream bodies that way).
 * A real Response settles its body on the event loop's schedule, outside simulated time.
 */
const encoder = new TextEncoder();

/**
 * Headers as a plain Map with lower-cased names: what the code under simulation calls of them
 * (get, set, has, iteration), without the WebIDL conversions that make the real class costly
 * when millions of cache reads and writes each build one.
 */
export class SimHeaders {
  #map = new Map();

  constructor(init) {
    if (!init) return;
    const pairs = init instanceof SimHeaders || Array.isArray(init) ? init : Object.entries(init);
    for (const [k, v] of pairs) this.#map.set(k.toLowerCase(), String(v));
  }

  get(name) {
    return this.#map.get(name.toLowerCase()) ?? null;
  }

  set(name, value) {
    this.#map.set(name.toLowerCase(), String(value));
  }

  has(name) {
    return this.#map.has(name.toLowerCase());
  }

  delete(name) {
    this.#map.delete(name.toLowerCase());
  }

  [Symbol.iterator]() {
    return this.#map.entries();
  }

  entries() {
    return this.#map.entries();
  }
}

export class SimResponse {
  constructor(body = null, init = {}) {
    this.text_ = body == null ? "" : String(body);
    this.status = init.status ?? 200;
    this.headers = init.headers instanceof SimHeaders ? init.headers : new SimHeaders(init.headers);
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  text() {
    return Promise.resolve(this.text_);
  }

  json() {
    return Promise.resolve(JSON.parse(this.text_));
  }

  get body() {
    let read = false;
    const bytes = encoder.encode(this.text_);
    return {
      getReader: () => ({
        read: () => {
          if (read || bytes.byteLength === 0) return Promise.resolve({ done: true, value: undefined });
          read = true;
          return Promise.resolve({ done: false, value: bytes });
        },
        cancel: () => Promise.resolve(),
        releaseLock: () => undefined,
      }),
      cancel: () => Promise.resolve(),
    };
  }
}
