import type { LoadOutcome } from "../budget/leases";
import type { Entry } from "./entry";
import type { FamilyPolicy } from "./policy";
import type { Tier } from "./tiers";

/**
 * What the cache engine is asked and answers (src/cache/engine.ts serves, loads.ts loads):
 * a lookup's options, the answer and its state, and the coordinator a load asks first.
 */

export type ServeState = "fresh" | "stale" | "stale-if-error" | "miss";
export type Purpose = "foreground" | "background" | "scheduled";

export interface Served {
  entry: Entry;
  state: ServeState;
  /** Age of the served body in ms at the time of the answer. */
  ageMs: number;
  tier?: Tier;
  /** This miss waited on another request's load (here or in another isolate). */
  collapsed?: boolean;
  /** Why a stale copy was served instead of fresh data. */
  error?: unknown;
}

export type Loader = (purpose: Purpose) => Promise<string>;

export type Turn =
  | { kind: "load"; finish(outcome: LoadOutcome): void }
  | { kind: "wait"; outcome: Promise<LoadOutcome> }
  | { kind: "skip"; loadedAt?: number; etag?: string }
  | { kind: "refused"; reason: RefusalReason; retryAfterSeconds: number };

/** Why a load was not let through (src/budget/admission.ts says what each means). */
export type RefusalReason = "paused" | "budget" | "client" | "unavailable";

export interface Coordinator {
  /**
   * Whether a background refresh of `key`, stale for `staleForMs` of a `windowMs` long stale
   * window, is held back now without asking anyone (a refusal or skip remembered, or this
   * isolate's place in the spread of refreshes): checked before a refresh is started.
   */
  holdsBack?(key: string, staleForMs: number, windowMs: number): boolean;
  /** `since`: the fetch time of the copy held, if any; `freshFrom`: the oldest fetch time still fresh. */
  begin(key: string, purpose: Purpose, since: number | undefined, freshFrom: number): Promise<Turn>;
  /** Upstream said 429: stop every isolate until Retry-After has passed (resolves once they are told). */
  pause(retryAfterSeconds: number): Promise<void>;
}

/** A load that did not happen here: refused, skipped, or shared with a load that failed. */
export class LoadRefused extends Error {
  constructor(
    readonly reason: RefusalReason | "skipped" | "shared_failure" | "shared_timeout",
    readonly retryAfterSeconds: number,
  ) {
    super(`load refused: ${reason}`);
    this.name = "LoadRefused";
  }
}

export interface LookupOptions {
  key: string;
  policy: FamilyPolicy;
  load: Loader;
  serveStaleOn: (err: unknown) => boolean;
  /** The status to cache when `err` is the upstream's answer (404...); undefined for failures. */
  answerStatus?: (err: unknown) => number | undefined;
  /** Windows for those negative entries (default: `policy`). */
  negativePolicy?: FamilyPolicy;
  /** Copies fetched before this moment (a purge) are treated as absent. */
  invalidBefore?: number;
  /**
   * How long a load failure is this key's answer (ms), or undefined: repeats within it get the
   * same error without asking anyone, so one broken resource costs BeatPass one request.
   */
  failureMemoMs?: (err: unknown) => number | undefined;
  /** Throws when a load would be refused anyway (checked before the coordinator spends a permit). */
  precheck?: () => void;
}

/** The windows that apply to `entry`: a negative entry's own, when the lookup has them. */
export const policyOf = (opts: LookupOptions, entry: Entry) =>
  entry.status ? (opts.negativePolicy ?? opts.policy) : opts.policy;
