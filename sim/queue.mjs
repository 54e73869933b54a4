/**
 * Simulated time: a priority queue of events ordered by time, then by insertion (so two
 * events at the same millisecond run in the order they were scheduled, every run).
 *
 * The Worker's code under simulation is async: an event (a KV read answering, a timer firing)
 * resolves a promise, and the code awaiting it runs as microtasks, which may read the clock
 * and schedule further events. `settle()` lets those microtasks finish before time moves on;
 * the simulation has no other asynchrony (no real I/O, no real timers), so once settled,
 * nothing is pending that the queue does not know about.
 */
export class EventQueue {
  /** The current simulated time, ms. */
  now = 0;
  #heap = [];
  #seq = 0;

  /** Runs `fn` at `time` (never in the past: a late request runs now). Returns a handle for cancel(). */
  at(time, fn) {
    const ev = { time: Math.max(time, this.now), seq: this.#seq++, fn };
    const h = this.#heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = ev;
    return ev;
  }

  after(ms, fn) {
    return this.at(this.now + ms, fn);
  }

  cancel(ev) {
    if (ev) ev.fn = undefined;
  }

  /** The time of the next event, or Infinity. */
  get nextTime() {
    return this.#heap.length ? this.#heap[0].time : Number.POSITIVE_INFINITY;
  }

  get size() {
    return this.#heap.length;
  }

  /** Takes the next event off the queue, moves the clock to it and runs it. False when empty. */
  step() {
    const h = this.#heap;
    if (h.length === 0) return false;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r], h[l]) ? r : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    this.now = top.time;
    top.fn?.();
    return true;
  }

  /** Runs every event up to and including `until`, settling after each distinct time; the clock ends at `until`. */
  async runUntil(until) {
    while (this.nextTime <= until) {
      const t = this.nextTime;
      while (this.nextTime === t) this.step();
      await settle();
    }
    this.now = Math.max(this.now, until);
  }
}

const before = (a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq);

// A message to ourselves is a macrotask, so every microtask runs before it arrives. It
// measured a quarter faster per simulated scenario than setImmediate (which polls I/O on each
// turn). The port holds the process open only while someone waits on it.
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => {
  const resolve = waiting.shift();
  if (waiting.length === 0) channel.port1.unref();
  resolve();
};
channel.port1.unref();

/** Resolves once every microtask queued so far (and those they queue) has run. */
export function settle() {
  return new Promise((resolve) => {
    if (waiting.push(resolve) === 1) channel.port1.ref();
    channel.port2.postMessage(0);
  });
}
