import type { Hono } from "hono";
import type * as z from "zod/mini";
import type { CATALOG_CONTRACT } from "./contract";
import type { Problem } from "./errors";

/**
 * The Worker's type for hono/client: `hc<AppType>("https://your-worker")`. Built from the
 * route contract (contract.ts: zod schemas only), not from the running app, so a consumer
 * compiles it with nothing but the DOM lib: no Workers types, no bindings (`npm run
 * build:types` writes types/client.d.ts). Each route's answers are a union by status, so
 * `if (res.status === 404)` narrows `res.json()` to the problem body.
 */

type Contract = typeof CATALOG_CONTRACT;
/** A route's schemas (the Worker builds them when the route is first asked for). */
type Schemas<K extends keyof Contract> = ReturnType<Contract[K]["schemas"]>;
type Route = Schemas<keyof Contract>;

/** The parameter names a schema takes (an empty z.object is a Record<string, never>: none). */
type Named<T> = string extends keyof T ? never : keyof T;

/**
 * What a /v1 route may answer with a problem: 400 only where it takes parameters. The status
 * unions here are the OpenAPI document's, route by route (test/types/client.test.ts compares).
 */
type CatalogProblemStatus<R extends Route> =
  | ([Named<z.input<R["params"]>> | Named<z.input<R["query"]>>] extends [never] ? never : 400)
  | 401
  | 403
  | 404
  | 410
  | 429
  | 502
  | 503
  | 504;

type Answers<I, O, Status extends number> =
  | { input: I; output: O; outputFormat: "json"; status: 200 }
  | { input: I; output: Problem; outputFormat: "json"; status: Status }
  | { input: I; output: ""; outputFormat: "text"; status: 304 };

type RouteInput<R extends Route> = (Record<never, never> extends z.input<R["params"]>
  ? unknown
  : { param: z.input<R["params"]> }) & { query: z.input<R["query"]> };

type CatalogSchema = {
  [K in keyof Contract as `/v1${Contract[K]["path"]}`]: {
    $get: Answers<RouteInput<Schemas<K>>, z.output<Schemas<K>["response"]>, CatalogProblemStatus<Schemas<K>>>;
  };
};

/** oEmbed 1.0 rich response (README, "Widgets"). */
export interface OEmbed {
  version: "1.0";
  type: "rich";
  provider_name: string;
  provider_url: string;
  title: string;
  author_name?: string;
  author_url?: string;
  html: string;
  width: number;
  height: number;
  /** The card as a PNG link preview; absent when it would be under 200 px wide. */
  thumbnail_url?: string;
  thumbnail_width?: number;
  thumbnail_height?: number;
  cache_age: number;
}

export interface PurgeResult {
  purged: string[];
  collections: true;
  purged_at: string;
}

/** /healthz for everyone: whether the proxy is healthy (503 with a problem when it is not). */
export interface PublicHealth {
  status: "ok" | "warn" | "degraded";
}

/** /healthz with X-Operator-Key: the whole report, also at 503 (status "error"). */
export interface HealthReport {
  status: "ok" | "warn" | "degraded" | "error";
  token_configured: boolean;
  upstream_base: string | null;
  [detail: string]: unknown;
}

/** Which one a caller gets depends on its key: `"token_configured" in health` tells them apart. */
export type Health = PublicHealth | HealthReport;

export interface RouteIndex {
  name: string;
  description: string;
  routes: string[];
  widgets: string[];
  feeds: string[];
  oembed: string;
  health: string;
  openapi: string;
  docs: string;
}

type CardOptions = { theme?: string; size?: string; accent?: string; hide?: string };
type WidgetInput = {
  param: { kind: "track" | "artist" | "album" | "playlist"; file: string };
  query: CardOptions & { layout?: "og" | "card"; width?: string };
};
type Text<I, Status extends number> = { input: I; output: string; outputFormat: "text"; status: Status };
/** A route that takes no parameters: hono/client's `$get()` with no arguments. */
type NoInput = Record<never, never>;

type FeedInput = { param: { file: string } };
/** A feed (Atom, RSS or JSON Feed, by the file's extension) as text, or a problem. */
type Feed = {
  $get:
    | Text<FeedInput, 200 | 304>
    | {
        input: FeedInput;
        output: Problem;
        outputFormat: "json";
        status: 400 | 401 | 403 | 404 | 410 | 429 | 502 | 503 | 504;
      };
};

type ServiceSchema = {
  "/feeds/artist/:file": Feed;
  "/feeds/playlist/:file": Feed;
  "/feeds/genre/:file": Feed;
  "/feeds/tag/:file": Feed;
  /**
   * Cards answer even their errors as cards (200, X-Problem-Code); only these are problems, and
   * 429 (past the render budget) is the paused card, or a problem when Accept asks for JSON.
   */
  "/widget/:kind/:file": {
    $get:
      | Text<WidgetInput, 200 | 304 | 429>
      | { input: WidgetInput; output: Problem; outputFormat: "json"; status: 400 | 404 | 429 | 503 };
  };
  "/embed.js": { $get: Text<NoInput, 200 | 304> };
  "/oembed": {
    $get: Answers<
      { query: CardOptions & { url: string; maxwidth?: string; maxheight?: string; format?: string } },
      OEmbed,
      400 | 401 | 404 | 429 | 501 | 502 | 503 | 504
    >;
  };
  "/hooks/purge": {
    $post:
      | { input: { json: { resources: string[] } }; output: PurgeResult; outputFormat: "json"; status: 200 }
      | {
          input: { json: { resources: string[] } };
          output: Problem;
          outputFormat: "json";
          status: 400 | 401 | 409 | 413 | 503;
        };
  };
  /** 503 when the proxy cannot serve: the report for the operator, a problem for everyone else. */
  "/healthz": {
    $get:
      | { input: NoInput; output: PublicHealth | HealthReport; outputFormat: "json"; status: 200 }
      | { input: NoInput; output: HealthReport | Problem; outputFormat: "json"; status: 503 }
      | { input: NoInput; output: Problem; outputFormat: "json"; status: 429 };
  };
  /** The route index with Accept: application/json (a browser gets the demo page). */
  "/": { $get: { input: NoInput; output: RouteIndex; outputFormat: "json"; status: 200 } };
  "/openapi.json": { $get: { input: NoInput; output: Record<string, unknown>; outputFormat: "json"; status: 200 } };
  "/docs": { $get: Text<NoInput, 200> };
  "/problems/:code": {
    $get:
      | {
          input: { param: { code: Problem["code"] } };
          output: { code: Problem["code"]; title: string; status: number; why: string; todo: string };
          outputFormat: "json";
          status: 200;
        }
      | { input: { param: { code: string } }; output: Problem; outputFormat: "json"; status: 404 };
  };
};

export type ApiSchema = CatalogSchema & ServiceSchema;

// biome-ignore lint/complexity/noBannedTypes: Hono's own name for "no bindings, no variables".
export type AppType = Hono<{}, ApiSchema, "/">;
export type { Problem };
