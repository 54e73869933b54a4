import { DurableObject } from "cloudflare:workers";
import { PURGE_RECORD_KEY, PURGE_RECORD_MAX, PURGE_RETENTION_MS } from "../cache/purge";
import { KV_MIN_WRITE_INTERVAL_MS } from "../cache/tiers";
import type { Env } from "../env";
import { logEvent } from "../lib/log";
import { coordinatorNames } from "./coordination";
import { renew } from "./grants";
import { GroupSpends, PRESSURE_SHARE } from "./groups";
import { HotScores } from "./hot-scores";
import { emptyLedger, inUse, type LeaseAsk, type LeaseGrant, type Ledger, pauseUntil, settle } from "./ledger";
import { KeeperStats } from "./stats";

/**
 * The budget keeper: one Durable Object for the token (binding UPSTREAM_BUDGET, name
 * BUDGET_OBJECT_NAME), the authority for spending BeatPass requests. It is not on any
 * request's path: isolates hold quota leases (ledger.ts) and spend them locally, renewing in
 * the background a few times a minute at most. It holds:
 *
 * - the ledger of leases and recent spends, persisted so a restart cannot hand out a second
 *   minute's worth;
 * - spends per network group from every isolate's reports (groups.ts): a group past its share
 *   anywhere is refused everywhere from the next renewal on;
 * - the 429 pause: recorded, carried by every grant, and told at once to every coordinator
 *   (coordination.ts) that isolates ask before a load, so no isolate starts another;
 * - the purge record (SQLite, one row per resource), updated in one synchronous step, so
 *   concurrent purges cannot overwrite each other; mirrored to KV for isolates that only
 *   serve hits (at most once a second, as KV allows), told to the coordinators and carried
 *   by every grant as `purgedAt`;
 * - the hot keys (hot-scores.ts), folded in by each isolate every few minutes, read by
 *   refresh-ahead.
 */
export const BUDGET_OBJECT_NAME = "beatpass-token";
/** A location that renewed a lease within this long is told of pauses and purges. */
const LOCATION_MEMORY_MS = 3_600_000;
/** How long a broadcast to the coordinators may take before the keeper answers anyway. */
const BROADCAST_TIMEOUT_MS = 2_000;
/**
 * Between two writes of the purge mirror: KV's one write per second per key, and a margin,
 * since the time is stamped here and KV counts from the write's arrival (tests' strict KV saw
 * 990 ms between two writes stamped a second apart).
 */
const MIRROR_GAP_MS = KV_MIN_WRITE_INTERVAL_MS + 100;

export type KeeperGrant = LeaseGrant & {
  /**
   * Permits in use but not the asker's to spend: spends in the last minute anywhere (its own
   * reported ones too) and other isolates' outstanding permits. The isolate adds its spends
   * since this ask; from half the budget on, groups are held to their shares (groups.ts).
   * Its own unspent lease does not count: a lone client's burst is not capped by permits it
   * has not used yet.
   */
  used: number;
  /** Groups past their share deployment-wide, until when (the isolate applies it under pressure only). */
  capped: Record<string, number>;
  purgedAt: number;
};

export interface KeeperAsk extends LeaseAsk {
  perMinute: number;
  /** Spends per network group since the last report. */
  groups: [string, number][];
  /** Permits refused here per class since the last report (for the operator's view). */
  refused: { viewer: number; refresh: number; scheduled: number };
}

export class UpstreamBudget extends DurableObject<Env> {
  private readonly ledger: Ledger;
  private readonly groups = new GroupSpends();
  private readonly hot: HotScores;
  private readonly stats = new KeeperStats();
  private readonly locations = new Map<string, number>();
  private purgedAt: number;
  private mirroring = false;
  private mirroredAt = Number.NEGATIVE_INFINITY;
  private mirrorLater: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS purges (resource TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    this.ledger = ctx.storage.kv.get<Ledger>("ledger") ?? emptyLedger();
    this.hot = new HotScores(ctx.storage.kv.get<Record<string, number>>("hot") ?? {});
    this.purgedAt = Number(ctx.storage.sql.exec("SELECT COALESCE(MAX(at), 0) AS t FROM purges").one().t);
  }

  /** A lease renewal: the isolate's spends since its last report, and more permits if the budget allows. */
  lease(ask: KeeperAsk): KeeperGrant {
    const now = Date.now();
    const sum = (r: { viewer: number; refresh: number; scheduled: number }) => r.viewer + r.refresh + r.scheduled;
    const before = this.ledger.leases[ask.isolate];
    const was =
      before && before.chain === ask.chain ? { granted: sum(before.granted), reported: before.reported } : undefined;
    const grant = renew(this.ledger, ask, now, ask.perMinute);
    for (const [group, n] of ask.groups) this.groups.add(group, now, n);
    this.locations.set(ask.location, now);
    const after = this.ledger.leases[ask.isolate];
    this.stats.record(now, {
      renewals: 1,
      granted: sum(grant.granted) - (was?.granted ?? 0),
      spent: Math.max(0, (after?.reported ?? 0) - (was?.reported ?? 0)),
      refusedViewer: ask.refused.viewer,
      refusedBackground: ask.refused.refresh + ask.refused.scheduled,
    });
    this.ctx.storage.kv.put("ledger", this.ledger);
    const all = inUse(this.ledger);
    const used = all - (after ? sum(after.granted) - after.reported : 0);
    const capped = used >= PRESSURE_SHARE * ask.perMinute ? this.groups.capped(now, ask.perMinute) : {};
    return { ...grant, used, capped, purgedAt: this.purgedAt };
  }

  /**
   * BeatPass said 429: nothing is granted before `until`, and every coordinator hears it now,
   * so no isolate anywhere starts a load meanwhile. Answers once they have (or a moment passed).
   */
  async pause(until: number): Promise<void> {
    if (!pauseUntil(this.ledger, until)) return;
    this.ctx.storage.kv.put("ledger", this.ledger);
    this.stats.record(Date.now(), { pauses: 1 });
    logEvent("warn", "upstream_paused", { until: new Date(until).toISOString() });
    await this.broadcast((c) => c.pause(until));
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
    await Promise.all([this.mirror(), this.broadcast((c) => c.purged(now))]);
    return now;
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

  /** An isolate's request counts of its hot keys since its last fold. */
  foldHot(counts: [string, number][]): void {
    this.hot.fold(counts, Date.now());
    this.ctx.storage.kv.put("hot", this.hot.scores);
  }

  /** The hottest keys deployment-wide, for refresh-ahead. */
  hotKeys(limit: number): string[] {
    return this.hot.top(limit, Date.now());
  }

  /** The deployment-wide view for the operator's /healthz, and for tests. */
  status(perMinute: number) {
    const now = Date.now();
    settle(this.ledger, now);
    return {
      budget_per_minute: perMinute,
      in_use: inUse(this.ledger),
      paused_until: this.ledger.pausedUntil > now ? new Date(this.ledger.pausedUntil).toISOString() : null,
      active_leases: Object.keys(this.ledger.leases).length,
      locations: [...this.locations.values()].filter((at) => now - at < LOCATION_MEMORY_MS).length,
      capped_groups: Object.keys(this.groups.capped(now, perMinute)).length,
      last_hour: this.stats.lastHour(now),
    };
  }

  /**
   * Copies the purge record to KV. KV takes one write per second per key and refuses more
   * (429): a purge within a second of the last write is left to one write a second after it,
   * which carries every purge recorded by then (the grants announce it meanwhile). One write
   * at a time, each of the record as it is when the write starts: puts that overlapped could
   * land out of order and leave an older record in KV.
   */
  private mirror(): Promise<void> {
    const wait = this.mirroredAt + MIRROR_GAP_MS - Date.now();
    if (wait > 0 || this.mirroring) {
      // The timer only wakes this up; whether the gap has passed is Date.now()'s to say.
      this.mirrorLater ??= setTimeout(
        () => {
          this.mirrorLater = undefined;
          void this.mirror();
        },
        Math.max(wait, MIRROR_GAP_MS),
      );
      return Promise.resolve();
    }
    this.mirroring = true;
    this.mirroredAt = Date.now();
    return this.env.BEATPASS_CACHE.put(PURGE_RECORD_KEY, JSON.stringify(this.purgesSince(0)))
      .catch((err: unknown) => {
        // The record here is the authority: log, and write the mirror again after the gap.
        logEvent("warn", "purge_mirror_failed", { error: String(err) });
        this.mirroring = false;
        void this.mirror();
      })
      .finally(() => {
        this.mirroring = false;
      });
  }

  /** Tells every coordinator isolates may ask (each location seen lately, every key shard). */
  private async broadcast(
    tell: (c: { pause(until: number): Promise<void>; purged(at: number): Promise<void> }) => Promise<void>,
  ): Promise<void> {
    const ns = this.env.COORDINATORS;
    if (!ns) return;
    const now = Date.now();
    const names = coordinatorNames(
      [...this.locations].filter(([, at]) => now - at < LOCATION_MEMORY_MS).map(([loc]) => loc),
    );
    const all = Promise.allSettled(names.map((name) => tell(ns.get(ns.idFromName(name)) as never)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, BROADCAST_TIMEOUT_MS);
    });
    await Promise.race([all, late]).finally(() => clearTimeout(timer));
  }
}
