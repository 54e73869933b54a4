import { createFakeBeatpass } from "../fake/beatpass.mjs";
import { logNormal } from "./random.mjs";
import { SimResponse } from "./response.mjs";

/**
 * BeatPass as the deployment meets it: one token's limit of `upstreamLimitPerMinute` requests
 * in any 60 s (a sliding window, counted where BeatPass receives them), a 429 with
 * Retry-After past it, log-normal latency, occasional 5xx, and scheduled outages (503). The
 * bodies come from the project's fake BeatPass (fake/beatpass.mjs, every track id up to
 * 100,000 exists), so the Worker's schemas check them as they check the real thing; a share
 * of track reloads find the play count moved (new content, new ETag).
 *
 * It also keeps the counts the report needs: requests per second (for the busiest minute),
 * and how many were answered 429, 5xx or during an outage.
 */
const TOKEN = "sim-token";
export const SIM_TOKEN = TOKEN;

export class SimBeatpass {
  /** While set (the preload), every request is answered and none is counted. */
  unlimited = false;
  requests = 0;
  tooMany = 0;
  serverErrors = 0;
  outageAnswers = 0;
  /** Time 0 of the run (ms): perSecond counts from it. */
  origin = 0;
  /** Arrival times (ms) of the deployment's requests in the run, and of the other user's. */
  arrivals = [];
  otherArrivals = [];
  /** The other user's requests BeatPass answered 429. */
  otherTooMany = 0;
  /** Requests admitted within the last minute (the window BeatPass counts). */
  #window = [];
  #windowStart = 0;
  #outages = [];
  #versions = new Map();
  #fake = createFakeBeatpass({ token: TOKEN, synthesizeTracks: true, rateLimitPerMinute: Number.MAX_SAFE_INTEGER });

  constructor(queue, p, random) {
    this.queue = queue;
    this.p = p;
    this.random = random;
  }

  /** BeatPass answers 503 to everything from `from` to `to` (ms). */
  outage(from, to) {
    this.#outages.push({ from, to });
  }

  /** The most of the deployment's requests that arrived within any 60 s (a sliding window, to the ms). */
  busiestMinute() {
    return busiestWindow(this.arrivals);
  }

  /** The same with the other user's requests counted in, as BeatPass counts the token. */
  busiestMinuteWithOther() {
    return busiestWindow(merge(this.arrivals, this.otherArrivals));
  }

  /** BeatPass's other user of the token: one request every `everyMs` from `from` to `to`. */
  otherUser(from, to, everyMs) {
    const send = () => {
      const now = this.queue.now;
      if (now >= to) return;
      this.otherArrivals.push(now);
      if (!this.#outages.some((o) => now >= o.from && now < o.to) && !this.#admit(now)) this.otherTooMany++;
      this.queue.after(everyMs, send);
    };
    this.queue.at(from, send);
  }

  /**
   * `fetch` for code in an isolate: `deliver(ms, fn)` brings the answer back to it (and
   * drops it if the isolate died). Half the latency out, the decision at arrival, half back.
   */
  fetchFor(deliver) {
    return (input, init = {}) => {
      const url = new URL(String(input));
      const latency = logNormal(this.p.upstreamLatencyMedianMs, this.p.upstreamLatencySigma, this.random);
      const signal = init.signal;
      return new Promise((resolve, reject) => {
        let settled = false;
        const abort = () => {
          if (settled) return;
          settled = true;
          reject(signal.reason ?? new DOMException("The operation was aborted.", "AbortError"));
        };
        if (signal?.aborted) return abort();
        signal?.addEventListener("abort", abort, { once: true });
        this.queue.after(latency / 2, async () => {
          const answer = await this.#answer(url, init);
          deliver(latency / 2, () => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener("abort", abort);
            resolve(answer);
          }).catch(() => undefined);
        });
      });
    };
  }

  /** Zeroes the counts (after the preload, which runs with `unlimited` set). */
  resetCounts() {
    this.requests = this.tooMany = this.serverErrors = this.outageAnswers = this.otherTooMany = 0;
    this.arrivals = [];
    this.otherArrivals = [];
  }

  async #answer(url, init) {
    const now = this.queue.now;
    if (this.unlimited) return this.#body(url, init, {});
    this.requests++;
    this.arrivals.push(now);
    if (this.#outages.some((o) => now >= o.from && now < o.to)) {
      this.outageAnswers++;
      return new SimResponse('{"message":"Service Unavailable"}', { status: 503 });
    }
    const limit = this.p.upstreamLimitPerMinute;
    const admitted = this.#admit(now);
    const rateHeaders = {
      "X-RateLimit-Limit": String(limit),
      "X-RateLimit-Remaining": String(Math.max(0, limit - this.#inWindow())),
    };
    if (!admitted) {
      this.tooMany++;
      return new SimResponse('{"message":"Too Many Attempts."}', {
        status: 429,
        headers: { ...rateHeaders, "Retry-After": String(this.p.upstreamRetryAfterS) },
      });
    }
    if (this.random() < this.p.upstream5xxShare) {
      this.serverErrors++;
      return new SimResponse('{"message":"Server Error"}', { status: 500, headers: rateHeaders });
    }
    return this.#body(url, init, rateHeaders);
  }

  /** Counts a request in the token's sliding window if it has room (true), as BeatPass does. */
  #admit(now) {
    const w = this.#window;
    while (this.#windowStart < w.length && w[this.#windowStart] <= now - 60_000) this.#windowStart++;
    if (this.#windowStart > 4096) {
      w.splice(0, this.#windowStart);
      this.#windowStart = 0;
    }
    if (this.#inWindow() >= this.p.upstreamLimitPerMinute) return false;
    w.push(now);
    return true;
  }

  #inWindow() {
    return this.#window.length - this.#windowStart;
  }

  async #body(url, init, rateHeaders) {
    const res = await this.#fake.fetch(
      new Request(url, { headers: { Authorization: init.headers?.Authorization ?? `Bearer ${TOKEN}` } }),
    );
    let text = await res.text();
    if (res.status === 200 && /^\/api\/v1\/tracks\/\d+$/.test(url.pathname)) text = this.#changed(url.pathname, text);
    return new SimResponse(text, {
      status: res.status,
      headers: { "Content-Type": "application/json", ...rateHeaders },
    });
  }

  /** A share of reloads find the play count moved since the last one. */
  #changed(path, text) {
    let version = this.#versions.get(path) ?? 0;
    if (this.random() < this.p.contentChangeShare) this.#versions.set(path, ++version);
    return version === 0 ? text : text.replace(/"plays":(\d+)/, (_m, n) => `"plays":${Number(n) + version}`);
  }
}

/** The most of `times` (ascending, ms) within any 60 s: [t, t + 60 s) for every t. */
export function busiestWindow(times, windowMs = 60_000) {
  let best = 0;
  let from = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[i] - times[from] >= windowMs) from++;
    best = Math.max(best, i - from + 1);
  }
  return best;
}

function merge(a, b) {
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++]);
  return out;
}
