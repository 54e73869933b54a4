import { ByteLru } from "./byte-lru";

/**
 * Admission on the second request, for a memo whose keys a caller can vary at will (cards:
 * every accent and width is a new key). A plain LRU stores every new key and so lets a flood
 * of one-off keys push out the entries real viewers keep asking for; here a new entry goes to
 * a small probation LRU, and reaches the main one only on its key's second request: a hit in
 * probation, or, once the flood has pushed it out of probation, a second store while the
 * doorkeeper remembers the key (TinyLFU's "doorkeeper", Einziger et al. 2017). One-off keys
 * only ever churn probation; a site that uses one accent hits probation on its second view.
 */

/**
 * Which keys were recently seen, in a fixed amount of memory: two generations of a Bloom
 * filter (3 probes over `bits` bits each). A generation holds `capacity` keys, then becomes the
 * previous one and a new one starts, so a key is remembered for between one and two
 * generations of other keys and the false-positive rate stays under ~1% however long the
 * isolate lives. A false positive admits a one-off key; a key is never forgotten early.
 */
export class Doorkeeper {
  private current: Uint32Array;
  private previous: Uint32Array;
  private added = 0;
  private readonly mask: number;

  constructor(
    readonly bits: number,
    readonly capacity: number,
  ) {
    if (bits < 32 || (bits & (bits - 1)) !== 0) throw new Error("Doorkeeper bits must be a power of two, at least 32");
    this.mask = bits - 1;
    this.current = new Uint32Array(bits / 32);
    this.previous = new Uint32Array(bits / 32);
  }

  /** Whether `key` was recorded in this generation or the last; records it either way. */
  seenBefore(key: string): boolean {
    const [h1, h2] = hashes(key);
    const inCurrent = this.holds(this.current, h1, h2);
    const seen = inCurrent || this.holds(this.previous, h1, h2);
    if (!inCurrent) this.record(h1, h2);
    return seen;
  }

  /** The memory held: both generations' bits. */
  get bytes(): number {
    return 2 * this.current.byteLength;
  }

  clear(): void {
    this.current.fill(0);
    this.previous.fill(0);
    this.added = 0;
  }

  private holds(gen: Uint32Array, h1: number, h2: number): boolean {
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + i * h2) & this.mask;
      if (((gen[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private record(h1: number, h2: number): void {
    if (this.added >= this.capacity) {
      const old = this.previous;
      this.previous = this.current;
      this.current = old.fill(0);
      this.added = 0;
    }
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + i * h2) & this.mask;
      this.current[bit >>> 5] = (this.current[bit >>> 5] ?? 0) | (1 << (bit & 31));
    }
    this.added++;
  }
}

const PROBES = 3;

/** Two independent 32-bit FNV-1a hashes of `key` (different offset bases); the second odd. */
function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x01000193);
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}

export interface SecondRequestLruOptions<V> {
  /** Everything together: main, probation and the doorkeeper's bits. */
  maxBytes: number;
  probationBytes: number;
  doorkeeperBits: number;
  doorkeeperCapacity: number;
  sizeOf: (value: V, key: string) => number;
}

/** A byte-bounded memo that admits a key to its main LRU only on the key's second request. */
export class SecondRequestLru<V> {
  readonly main: ByteLru<V>;
  readonly probation: ByteLru<V>;
  private readonly doorkeeper: Doorkeeper;

  constructor(o: SecondRequestLruOptions<V>) {
    this.doorkeeper = new Doorkeeper(o.doorkeeperBits, o.doorkeeperCapacity);
    this.probation = new ByteLru<V>({ maxBytes: o.probationBytes, sizeOf: o.sizeOf });
    this.main = new ByteLru<V>({ maxBytes: o.maxBytes - o.probationBytes - this.doorkeeper.bytes, sizeOf: o.sizeOf });
  }

  /** The value, from main, or from probation (a second request: it moves to main). */
  get(key: string): V | undefined {
    const held = this.main.get(key);
    if (held !== undefined) return held;
    const tried = this.probation.get(key);
    if (tried === undefined) return undefined;
    this.probation.delete(key);
    this.main.set(key, tried);
    return tried;
  }

  /**
   * Stores a value just computed because `get` found none: in main if the doorkeeper saw the
   * key before (its earlier value was pushed out of probation), else in probation.
   */
  set(key: string, value: V): boolean {
    if (this.doorkeeper.seenBefore(key)) {
      this.probation.delete(key);
      return this.main.set(key, value);
    }
    return this.probation.set(key, value);
  }

  get bytes(): number {
    return this.main.bytes + this.probation.bytes + this.doorkeeper.bytes;
  }

  clear(): void {
    this.main.clear();
    this.probation.clear();
    this.doorkeeper.clear();
  }
}
