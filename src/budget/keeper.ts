import { DurableObject } from "cloudflare:workers";
import { PURGE_RECORD_KEY, PURGE_RECORD_MAX, PURGE_RETENTION_MS } from "../cache/purge";
import { KV_MIN_WRITE_INTERVAL_MS } from "../cache/tiers";
import type { Env } from "../env";
import { logEvent } from "../lib/log";
import { type ClientRef, ClientShares } from "./fairness";
import { LeaseTable, type LoadOutcome } from "./leases";
import { type BudgetWindow, decide, emptyWindow, headroom, type PermitClass, pauseUntil, prune, spend } from "./window";

/**
 * The budget keeper: one Durable Object for the token (binding UPSTREAM_BUDGET, name
 * BUDGET_OBJECT_NAME), the single authority for spending BeatPass requests. Every isolate
 * asks it before a request leaves for BeatPass; a cache hit never does. It holds:
 *
 * - the sliding-window bucket and its priority classes (window.ts), persisted so a restart
 *   cannot hand out a second minute's worth;
 * - each client's share of the window under pressure (fairness.ts), so cache-busting clients
 *   cannot take the permits a viewer's expired copy needs;
 * - the 429 pause: one isolate's 429 stops every isolate on its next ask, no KV delay;
 * - one lease per key being loaded (leases.ts): a single load per key deployment-wide;
 * - the purge record (SQLite, one row per resource), updated in one synchronous step, so
 *   concurrent purges cannot overwrite each other; mirrored to KV for isolates that only
 *   serve hits (at most once a second, as KV allows), and announced as `purgedAt` on every grant.
 */
export const BUDGET_OBJECT_NAME = "beatpass-token";

export interface PermitRequest {
  key: string;
  cls: PermitClass;
  perMinute: number;
  /** How long the load may take: the lease's length. */
  leaseMs: number;
  /** The fetch time of the copy the caller holds, if any. */
  since?: number;
  /** The oldest fetch time the caller would still call fresh (now minus its soft window). */
  freshFrom: number;
  /** Who asked, for a viewer's miss (its fair share); absent for refreshes. */
  client?: ClientRef;
}

export type Grant = (
  | { kind: "go" }
  | { kind: "wait" }
  | { kind: "shared"; outcome: Extract<LoadOutcome, { kind: "data" }> }
  | { kind: "skip"; loadedAt?: number; etag?: string }
  | { kind: "denied"; reason: "paused" | "budget" | "client"; retryAfterMs: number }
) & { purgedAt: number };

export class UpstreamBudget extends DurableObject<Env> {
  private readonly window: BudgetWindow;
  private readonly leases = new LeaseTable();
  private readonly shares = new ClientShares();
  private purgedAt: number;
  private mirrored: Promise<void> = Promise.resolve();
  private mirroredAt = Number.NEGATIVE_INFINITY;
  private mirrorLater: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS purges (resource TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    this.window = ctx.storage.kv.get<BudgetWindow>("window") ?? emptyWindow();
    this.purgedAt = Number(ctx.storage.sql.exec("SELECT COALESCE(MAX(at), 0) AS t FROM purges").one().t);
  }

  /** One permit (and the key's lease), or why not. Synchronous: no two asks interleave. */
  acquire(req: PermitRequest): Grant {
    const now = Date.now();
    const purgedAt = this.purgedAt;
    // Someone is loading it: a viewer or a refresh waits for that outcome (a refresh waits in
    // the background, and then holds the new copy like the loader does); refresh-ahead moves on.
    if (this.leases.held(req.key, now)) {
      return req.cls === "scheduled" ? { kind: "skip", purgedAt } : { kind: "wait", purgedAt };
    }
    // Loaded elsewhere since the caller's copy, recently enough to be fresh for it and after
    // the last purge (of anything: purges are rare, and this needs no key parsing): hand the
    // body over while it is kept, otherwise tell a refresh the copy's ETag is current.
    const after = Math.max(req.since ?? 0, req.freshFrom - 1, this.purgedAt);
    const loaded = this.leases.loadedAfter(req.key, after);
    if (loaded) {
      const outcome = this.leases.relay(req.key, now);
      if (outcome) return { kind: "shared", outcome, purgedAt };
      if (req.cls !== "viewer") return { kind: "skip", loadedAt: loaded.fetchedAt, etag: loaded.etag, purgedAt };
    }
    const decision = decide(this.window, req.cls, now, req.perMinute);
    if (!decision.ok) return { ...decision, kind: "denied", purgedAt };
    const client = req.cls === "viewer" ? req.client : undefined;
    if (client) {
      const share = this.shares.decide(this.window, client, now, req.perMinute);
      if (!share.ok) return { kind: "denied", reason: "client", retryAfterMs: share.retryAfterMs, purgedAt };
      this.shares.record(client, now);
    }
    spend(this.window, now);
    this.ctx.storage.kv.put("window", this.window);
    this.leases.take(req.key, now, req.leaseMs);
    return { kind: "go", purgedAt };
  }

  /** The lease holder's outcome, handed to everyone waiting on the key. */
  complete(key: string, outcome: LoadOutcome): void {
    this.leases.complete(key, outcome, Date.now());
  }

  /** Waits for the holder of `key`'s lease to finish. */
  awaitLoad(key: string): Promise<LoadOutcome> {
    return this.leases.wait(key, Date.now());
  }

  /** BeatPass said 429: nobody asks it again before `until`. */
  pause(until: number): void {
    if (pauseUntil(this.window, until)) {
      this.ctx.storage.kv.put("window", this.window);
      logEvent("warn", "upstream_paused", { until: new Date(until).toISOString() });
    }
  }

  /** Records that `resources` changed now; returns the purge time. */
  async recordPurge(resources: string[]): Promise<number> {
    const now = Math.max(Date.now(), this.purgedAt + 1);
    const sql = this.ctx.storage.sql;
    for (const r of [...resources, "*"]) {
      sql.exec(
        "INSERT INTO purges (resource, at) VALUES (?, ?) ON CONFLICT(resource) DO UPDATE SET at = ?",
        r,
        now,
        now,
      );
    }
    sql.exec("DELETE FROM purges WHERE at < ?", now - PURGE_RETENTION_MS);
    this.purgedAt = now;
    await this.mirror();
    return now;
  }

  /**
   * Copies the purge record to KV. KV takes one write per second per key and refuses more
   * (429): a purge within a second of the last write is left to one write a second after it,
   * which carries every purge recorded by then (the grants announce it meanwhile). One write
   * at a time, each of the record as it is when the write starts: puts that overlapped could
   * land out of order and leave an older record in KV.
   */
  private mirror(): Promise<void> {
    const wait = this.mirroredAt + KV_MIN_WRITE_INTERVAL_MS - Date.now();
    if (wait > 0) {
      // The timer only wakes this up; whether a second has passed is Date.now()'s to say.
      this.mirrorLater ??= setTimeout(() => {
        this.mirrorLater = undefined;
        void this.mirror();
      }, wait);
      return Promise.resolve();
    }
    this.mirroredAt = Date.now();
    const write = this.mirrored.then(() =>
      this.env.BEATPASS_CACHE.put(PURGE_RECORD_KEY, JSON.stringify(this.purgesSince(0))).catch((err: unknown) => {
        // The record here is the authority; the next purge writes the mirror again.
        logEvent("warn", "purge_mirror_failed", { error: String(err) });
      }),
    );
    this.mirrored = write;
    return write;
  }

  /** Purges recorded after `since`, newest first (at most PURGE_RECORD_MAX). */
  purgesSince(since: number): Record<string, number> {
    const rows = this.ctx.storage.sql.exec<{ resource: string; at: number }>(
      "SELECT resource, at FROM purges WHERE at > ? ORDER BY at DESC LIMIT ?",
      since,
      PURGE_RECORD_MAX,
    );
    const out: Record<string, number> = {};
    for (const row of rows) out[row.resource] = row.at;
    return out;
  }

  /** For /healthz and tests. */
  status(perMinute: number): {
    viewer: number;
    refresh: number;
    scheduled: number;
    pausedUntil: number;
    leases: number;
    waiting: number;
  } {
    prune(this.window, Date.now());
    return {
      viewer: headroom(this.window, "viewer", perMinute),
      refresh: headroom(this.window, "refresh", perMinute),
      scheduled: headroom(this.window, "scheduled", perMinute),
      pausedUntil: this.window.pausedUntil,
      leases: this.leases.size,
      waiting: this.leases.waiting,
    };
  }
}
