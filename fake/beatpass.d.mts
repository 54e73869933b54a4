export declare const FAKE_BASE_PATH: "/api/v1";

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

export type FakeFault = { path?: string; times?: number; ms?: number } & (
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: "delay" }
  | { kind: "hang" }
  | { kind: "network" }
  | { kind: "redirect"; location?: string }
  | { kind: "trickle"; every?: number }
  | { kind: "invalid_json" }
  | { kind: "body"; body: unknown; contentType?: string }
  | { kind: "large"; bytes?: number }
);

/** Requests held at the fake's door (FakeBeatpass.hold). */
export interface FakeHold {
  /** Resolves when the first held request has reached the fake. */
  readonly arrived: Promise<void>;
  /** Requests held so far (released ones included). */
  readonly count: number;
  /** Lets every held request (and any later one) be answered as usual, faults included. */
  release(): void;
}

export interface FakeBeatpass {
  fetch(request: Request): Promise<Response>;
  readonly requests: FakeRequest[];
  readonly faults: FakeFault[];
  addFault(fault: FakeFault): void;
  /** Holds requests whose API path contains `path` (every request without one) until released. */
  hold(path?: string): FakeHold;
  acceptTokens(tokens: string[]): void;
  /** Starts a rate-limit window now with `used` requests already spent in it (refresh-ahead's reserve tests). */
  spendWindow(used: number): void;
  reset(): void;
}

export declare function createFakeBeatpass(options?: {
  token?: string;
  rateLimitPerMinute?: number;
  now?: () => number;
  /** Rewrites artwork URLs to `${imageBase}/...`, served by the fake at /images/. */
  imageBase?: string;
  /** Makes every track id up to 100000 exist (benchmarks). */
  synthesizeTracks?: boolean;
}): FakeBeatpass;
