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

export interface FakeBeatpass {
  fetch(request: Request): Promise<Response>;
  readonly requests: FakeRequest[];
  readonly faults: FakeFault[];
  addFault(fault: FakeFault): void;
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
