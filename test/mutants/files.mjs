/** Test files, named once for the mutant catalogue. */
export const T = {
  errors: "test/integration/errors.test.ts",
  resilience: "test/integration/resilience.test.ts",
  kvDiscipline: "test/integration/kv-discipline.test.ts",
  cache: "test/integration/cache.test.ts",
  consumers: "test/integration/consumers.test.ts",
  widgets: "test/integration/widgets.test.ts",
  feeds: "test/integration/feeds.test.ts",
  token: "test/integration/token.test.ts",
  secrets: "test/integration/secrets.test.ts",
  validation: "test/integration/validation.test.ts",
  routes: "test/integration/routes.test.ts",
  projection: "test/integration/projection.test.ts",
  upstreamTrust: "test/integration/upstream-trust.test.ts",
  sharedCache: "test/integration/shared-cache.test.ts",
  contract: "test/integration/contract.test.ts",
  clientTypes: "test/types/client.test.ts",
  // Node: resvg and the rasteriser's encoder (vitest project "raster").
  raster: "test/e2e/raster.test.ts",
  // Node: covers shrunk once to their drawn pixels (raster/shrink.ts), judged by their pixels.
  rasterShrink: "test/e2e/raster-shrink.test.ts",
  // The rasteriser Worker in workerd (X-Raster-Covers, its refusals).
  rasterCovers: "test/integration/raster-covers.test.ts",
  unitCache: "test/unit/cache.test.ts",
  unitUpstream: "test/unit/upstream.test.ts",
  unitRender: "test/unit/render.test.ts",
  unitRequests: "test/unit/requests.test.ts",
  unitReadCapped: "test/unit/read-capped.test.ts",
  unitBudget: "test/unit/budget.test.ts",
  unitLeaseGate: "test/unit/lease-gate.test.ts",
  unitGroups: "test/unit/groups.test.ts",
  unitByteLru: "test/unit/byte-lru.test.ts",
  unitMissBudget: "test/unit/miss-budget.test.ts",
  unitRenderBudget: "test/unit/render-budget.test.ts",
  unitDoorkeeper: "test/unit/doorkeeper.test.ts",
  unitOrigin: "test/unit/origin.test.ts",
  unitParams: "test/unit/params.test.ts",
  unitIp: "test/unit/ip.test.ts",
  // Renders charged to their client, error cards kept, widths snapped, the memo under a flood.
  renderBudget: "test/integration/render-budget.test.ts",
  budget: "test/integration/budget.test.ts",
  hotList: "test/integration/hot-list.test.ts",
  keeper: "test/integration/keeper.test.ts",
  coordination: "test/integration/coordination.test.ts",
  // Deployment-wide promises (vitest project "fleet": several instances in one miniflare).
  fleetBudget: "test/fleet/budget.test.ts",
  fleetLeases: "test/fleet/leases.test.ts",
  // The deployed build in a fresh workerd, with zod's schema factories counted.
  coldStart: "test/fleet/cold-start.test.ts",
  memoBudget: "test/integration/memo-budget.test.ts",
  refreshReserve: "test/integration/refresh-reserve.test.ts",
  // The per-client limit tests (they make hundreds of requests).
  consumerLimits: "test/integration/consumers-limits.test.ts",
  hitLimits: "test/integration/hit-limits.test.ts",
  // The hit lane against the Hono app, request by request.
  hitLane: "test/integration/hit-lane.test.ts",
  cardLane: "test/integration/card-lane.test.ts",
};
