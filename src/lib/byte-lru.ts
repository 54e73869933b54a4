/**
 * An LRU bounded by an estimate of the heap it holds (and optionally by entry count), for
 * in-isolate memos whose key space a caller controls: an entry cap alone lets a few hundred
 * large values (a card with inlined artwork is ~250 KB) reach the isolate's 128 MB limit.
 *
 * Sizes are estimates, not measurements. Strings count 2 bytes per UTF-16 code unit; V8
 * keeps Latin-1 strings in one, so this over-counts the common case by enough to cover
 * string headers. ENTRY_OVERHEAD_BYTES covers the Map slot and this class's record per
 * entry; a value's own wrapper objects are the caller's `sizeOf` (SMALL_OBJECT_BYTES each).
 */

/** Map slot (key, value, chain, bucket share) plus the { value, bytes } record, compressed pointers. */
export const ENTRY_OVERHEAD_BYTES = 32;
/** A plain object of a few fields, or a boxed number: header plus slots. */
export const SMALL_OBJECT_BYTES = 32;

export const stringBytes = (s: string): number => s.length * 2;

export interface ByteLruOptions<V> {
  maxBytes: number;
  maxEntries?: number;
  /** Bytes `value` holds besides its key's text and ENTRY_OVERHEAD_BYTES. */
  sizeOf: (value: V, key: string) => number;
}

/**
 * LRU by "second chance" (CLOCK): a read only marks its entry; eviction walks from the oldest
 * insertion, moving marked entries to the back (unmarked) and evicting the first unmarked one.
 * A read that re-inserted into the Map (exact LRU) cost a delete and a set on every hit, on
 * every memo of the hot path (bench/HISTORY.md, run 15); this costs a field write.
 */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number; read: boolean }>();
  private cursor: MapIterator<string> = this.map.keys();
  private total = 0;
  readonly maxBytes: number;
  readonly maxEntries: number;
  private readonly sizeOf: (value: V, key: string) => number;

  constructor(options: ByteLruOptions<V>) {
    this.maxBytes = options.maxBytes;
    this.maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.sizeOf = options.sizeOf;
  }

  /** The value, marked as used (it survives the next eviction pass). */
  get(key: string): V | undefined {
    const record = this.map.get(key);
    if (!record) return undefined;
    record.read = true;
    return record.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /**
   * Stores (or replaces) `key`, evicting the least recently used entries until both bounds
   * hold. A value larger than the whole budget is not stored (and replaces nothing: the
   * old value is dropped too). Returns whether it was stored. Call it again after mutating
   * a stored value, so its size is counted afresh.
   */
  set(key: string, value: V): boolean {
    this.delete(key);
    const bytes = stringBytes(key) + this.sizeOf(value, key) + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes || this.maxEntries < 1) return false;
    this.map.set(key, { value, bytes, read: false });
    this.total += bytes;
    while (this.total > this.maxBytes || this.map.size > this.maxEntries) {
      const k = this.oldest();
      if (k === undefined) break;
      const record = this.map.get(k) as { value: V; bytes: number; read: boolean };
      // A second chance: each marked entry is moved once per pass, so this ends.
      if (record.read && k !== key) {
        record.read = false;
        this.map.delete(k);
        this.map.set(k, record);
      } else this.delete(k);
    }
    return true;
  }

  /**
   * The oldest key, from one iterator kept across calls. A Map keeps a deleted entry's slot
   * until it rehashes, and a new iterator walks every such slot from the start: evicting from
   * the front with a fresh iterator each time cost a memo under churn (a new client address
   * every request) microseconds per insert (bench/HISTORY.md, runs 26 and 27). Every entry the
   * kept iterator has passed was evicted or moved to the end, so the next one it yields is the
   * oldest. (So it is never spent while an entry is left: entries are added behind it.)
   */
  private oldest(): string | undefined {
    const next = this.cursor.next();
    return next.done ? undefined : next.value;
  }

  delete(key: string): boolean {
    const record = this.map.get(key);
    if (!record) return false;
    this.total -= record.bytes;
    this.map.delete(key);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.cursor = this.map.keys();
    this.total = 0;
  }

  /** Entries from oldest to newest insertion (reads only mark), without marking them. */
  *entries(): IterableIterator<[string, V]> {
    for (const [key, record] of this.map) yield [key, record.value];
  }

  /** The estimated heap held, entries and keys included. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }
}
