import type { Entry } from "./entry";

/**
 * The in-isolate tier: a small LRU bounded by entry count and by bytes, so a burst of
 * large search results cannot push an isolate towards its 128 MB limit.
 */
export const MEMORY_MAX_ENTRIES = 1000;
export const MEMORY_MAX_BYTES = 16 * 1024 * 1024;

export class MemoryTier {
  private readonly map = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = MEMORY_MAX_ENTRIES,
    private readonly maxBytes = MEMORY_MAX_BYTES,
  ) {}

  get(key: string): Entry | undefined {
    const entry = this.map.get(key);
    if (!entry) return undefined;
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.map.delete(key);
    this.map.set(key, entry);
    return entry;
  }

  set(key: string, entry: Entry): void {
    this.delete(key);
    const size = entry.body.length * 2;
    if (size > this.maxBytes) return;
    this.map.set(key, entry);
    this.bytes += size;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (!old) return;
    this.bytes -= old.body.length * 2;
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.map.size;
  }
}
