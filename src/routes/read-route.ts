import type { Hono } from "hono";
import type * as z from "zod/mini";
import { KEY_FAILURE_MS } from "../budget/breaker";
import { check } from "../budget/guard";
import { LoadRefused, type LookupOptions } from "../cache/engine";
import { cacheKey } from "../cache/keys";
import type { TtlFamily } from "../cache/policy";
import { cacheTagsForKey, invalidBefore, syncPurges } from "../cache/purge";
import type { TierDeps } from "../cache/tiers";
import { type AppEnv, type Config, type Env, requireConfig } from "../env";
import { ApiError } from "../errors";
import { readOnly } from "../http/methods";
import { cachedJson } from "../http/respond";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { memo } from "../lib/memo-budget";
import type { Trace } from "../lib/trace";
import { isUpstreamFailure, type UpstreamContext, UpstreamError } from "../upstream/client";
import { loadTimeoutMs, tierDeps } from "./deps";
import { pickParams, rawValues, schemaKeys } from "./params";
import { memoryAnswer, type ReadRequest, serveRead } from "./serve-read";

/**
 * One /v1 read route as a row of routes/catalog.ts becomes: its handler (validate, then
 * `serveRead` in routes/serve-read.ts asks the cache engine and maps failures to problems),
 * and the lookup the scheduled refresh and other features (cards, oEmbed) rebuild from
 * stored parameters.
 */

export interface ReadRoute<P extends z.ZodMiniType, Q extends z.ZodMiniType, Path extends string, O> {
  path: Path;
  /** Cache key namespace; change it if the route's output changes shape. */
  name: string;
  /** One line for the OpenAPI document. */
  summary: string;
  family: TtlFamily;
  /**
   * What it validates and the body it answers with (documented, and checked against responses
   * in tests), built by the route's first request (contract.ts).
   */
  schemas: () => { params: P; query: Q; response: z.ZodMiniType };
  /** Names the resource in error details, e.g. "track 7". */
  subject: (p: z.output<P>) => string;
  load: (up: UpstreamContext, p: z.output<P>, q: z.output<Q>) => Promise<O>;
}

/**
 * Validated parameters, for every route, keyed by the route's name and the raw values of only
 * the parameters its schemas read: unknown parameters and padding are dropped by validation
 * anyway, so they make no new entries. Shared by the handlers and `reload`, byte-bounded.
 */
const validated = memo<{ params: unknown; query: unknown; key: string; cacheTag: string }>("validated", {
  // The parsed values hold at most the raw text (the memo key) again, in small objects.
  sizeOf: (v, memoKey) => 2 * stringBytes(v.key) + stringBytes(memoKey) + 4 * SMALL_OBJECT_BYTES,
});
/** A longer key (raw values, unescaped) is not worth remembering (real ones are far shorter): validate it each time. */
const MAX_VALIDATED_KEY_CHARS = 512;

/** BeatPass's answers (not failures): cached as negative entries, never hidden behind old data. */
const ANSWER_STATUSES = [403, 404, 410];
const answerStatus = (err: unknown) =>
  err instanceof UpstreamError && err.kind === "status" && ANSWER_STATUSES.includes(err.status ?? 0)
    ? err.status
    : undefined;

/** A copy, even an old one, beats an upstream failure, a refused permit or a spent miss budget. */
function serveStaleOn(err: unknown): boolean {
  if (err instanceof LoadRefused) return true;
  if (err instanceof ApiError) return err.code === "client_miss_budget";
  return err instanceof UpstreamError && answerStatus(err) === undefined;
}

export function route<P extends z.ZodMiniType, Q extends z.ZodMiniType, Path extends string, O>(
  r: ReadRoute<P, Q, Path, O>,
) {
  type Input = { params: z.output<P>; query: z.output<Q>; key: string; cacheTag: string };
  type Built = ReturnType<typeof r.schemas> & { names: { params: readonly string[]; query: readonly string[] } };
  // The schemas and the parameter names they read, once the route's first request has built
  // them: until then nothing is remembered, so there is nothing to look up.
  let built: Built | undefined;
  const schemas = (): Built => {
    if (built) return built;
    const s = r.schemas();
    built = { ...s, names: { params: schemaKeys(s.params), query: schemaKeys(s.query) } };
    return built;
  };
  const memoKeyOf = (params: Record<string, string | undefined>, query: Record<string, string | undefined>) => {
    const names = built?.names;
    if (!names) return undefined;
    const k = `${r.name}:${rawValues(params, names.params)}?${rawValues(query, names.query)}`;
    return k.length <= MAX_VALIDATED_KEY_CHARS ? k : undefined;
  };
  const remembered = (memoKey: string | undefined) =>
    memoKey === undefined ? undefined : (validated.get(memoKey) as Input | undefined);
  /** Validated parameters with their cache key and Cache-Tag, remembered under `memoKey`. */
  const remember = async (memoKey: string | undefined, params: z.output<P>, query: z.output<Q>) => {
    const key = await cacheKey(r.name, { ...(params as object), ...(query as object) });
    // Cache-Tag is a function of the key: worked out once per distinct request, not per hit.
    const input: Input = { params, query, key, cacheTag: cacheTagsForKey(key).join(",") };
    if (memoKey !== undefined) validated.set(memoKey, input);
    return input;
  };
  async function lookup(
    config: Config,
    env: Env,
    deps: TierDeps,
    params: z.output<P>,
    query: z.output<Q>,
    trace?: Trace,
    knownKey?: string,
  ): Promise<LookupOptions> {
    const key = knownKey ?? (await cacheKey(r.name, { ...(params as object), ...(query as object) }));
    await syncPurges(env.BEATPASS_CACHE, deps.waitUntil, deps.now());
    return options(config, deps, params, query, key, trace);
  }
  /** The lookup of a key, once purges are synced. */
  function options(
    config: Config,
    deps: TierDeps,
    params: z.output<P>,
    query: z.output<Q>,
    key: string,
    trace?: Trace,
  ): LookupOptions {
    return {
      key,
      policy: config.policy[r.family],
      negativePolicy: config.policy.negative,
      serveStaleOn,
      answerStatus,
      failureMemoMs: (err) => (isUpstreamFailure(err) ? KEY_FAILURE_MS : undefined),
      precheck: () => {
        const refusal = check(r.family, Date.now());
        if (!refusal.ok)
          throw new UpstreamError(refusal.reason, r.path, { retryAfterSeconds: refusal.retryAfterSeconds });
      },
      invalidBefore: invalidBefore(key),
      load: async (purpose) => {
        const up: UpstreamContext = {
          config,
          family: r.family,
          timeoutMs: loadTimeoutMs(config, purpose),
          onRateLimited: (seconds) => deps.coordinator?.pause(seconds),
          // Only the request waiting on this load reports it in its log line.
          trace: purpose === "foreground" ? trace : undefined,
        };
        return JSON.stringify(await r.load(up, params, query));
      },
    };
  }

  /** A validated request's `serveRead` input (the route handler's and the simulation's). */
  const readRequest = (
    config: Config,
    env: Env,
    deps: TierDeps,
    input: Input,
    trace?: Trace,
    clientKey?: string,
  ): ReadRequest => ({
    env,
    deps,
    trace,
    clientKey,
    path: r.path,
    subject: r.subject(input.params),
    options: () => options(config, deps, input.params, input.query, input.key, trace),
  });

  const register = (app: Hono<AppEnv>) => {
    app.get(r.path, async (c) => {
      // Validation is a pure function of the known parameters: input seen before skips zod and key building.
      const rawParams = c.req.param() as Record<string, string>;
      const rawQuery = c.req.query();
      const s = schemas();
      const memoKey = memoKeyOf(rawParams, rawQuery);
      let input = remembered(memoKey);
      if (!input) {
        const params = validate("path", s.params, pickParams(rawParams, s.names.params));
        const query = validate("query", s.query, pickParams(rawQuery, s.names.query));
        input = await remember(memoKey, params, query);
      }
      const config = requireConfig(c.env);
      const trace = c.get("trace");
      const client = c.get("client");
      const deps = tierDeps(c.env, c.executionCtx, config, client, trace);
      const served = await serveRead(readRequest(config, c.env, deps, input, trace, client?.limitKey));
      const upstreamStatus = served.error instanceof UpstreamError ? served.error.status : undefined;
      return cachedJson(c, served, config.policy[r.family], input.cacheTag, upstreamStatus);
    });
    readOnly(app, r.path);
  };

  /**
   * The hit lane's read (src/routes/hit-lane.ts): for parameters seen before whose data this
   * isolate holds in memory, the copy (not yet taken: memoryAnswer) with what its headers
   * need; otherwise undefined, with nothing done.
   */
  const memoryHit = (
    config: Config,
    env: Env,
    deps: TierDeps,
    rawParams: Record<string, string>,
    rawQuery: Record<string, string>,
    trace: Trace,
    clientKey: string,
  ) => {
    const input = remembered(memoKeyOf(rawParams, rawQuery));
    const answer = input && memoryRead(config, env, deps, input, trace, clientKey);
    return answer && { ...answer, policy: config.policy[r.family], cacheTag: input.cacheTag };
  };

  /** `memoryAnswer` for validated input (the hit lane's, and a card's reads: catalog.ts). */
  const memoryRead = (config: Config, env: Env, deps: TierDeps, input: Input, trace: Trace, clientKey: string) =>
    memoryAnswer(readRequest(config, env, deps, input, trace, clientKey));

  /** Validated input for parameters seen before (stored or raw), without an await. */
  const knownInput = (stored: Record<string, string>): Input | undefined => remembered(memoKeyOf(stored, stored));

  /** Validated input for stored (or raw) parameters, or undefined when they are invalid. */
  const inputOf = async (stored: Record<string, string>): Promise<Input | undefined> => {
    const s = schemas();
    const memoKey = memoKeyOf(stored, stored);
    let input = remembered(memoKey);
    if (!input) {
      const params = s.params.safeParse(pickParams(stored, s.names.params));
      const query = s.query.safeParse(pickParams(stored, s.names.query));
      if (!params.success || !query.success) return undefined;
      input = await remember(memoKey, params.data, query.data);
    }
    return input;
  };

  /** Rebuilds the lookup for a key's stored parameters (they were validated once already). */
  const reload = async (config: Config, env: Env, deps: TierDeps, stored: Record<string, string>, trace?: Trace) => {
    const input = await inputOf(stored);
    return input && lookup(config, env, deps, input.params, input.query, trace, input.key);
  };

  return {
    path: r.path,
    name: r.name,
    family: r.family,
    summary: r.summary,
    schemas: r.schemas,
    register,
    reload,
    knownInput,
    memoryHit,
    memoryRead,
    inputOf,
    readRequest,
  };
}
