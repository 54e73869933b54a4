/** Test files, named once for the mutant catalogue. */
export const T = {
  errors: "test/integration/errors.test.ts",
  resilience: "test/integration/resilience.test.ts",
  kvDiscipline: "test/integration/kv-discipline.test.ts",
  cache: "test/integration/cache.test.ts",
  consumers: "test/integration/consumers.test.ts",
  widgets: "test/integration/widgets.test.ts",
  token: "test/integration/token.test.ts",
  validation: "test/integration/validation.test.ts",
  routes: "test/integration/routes.test.ts",
  projection: "test/integration/projection.test.ts",
  unitCache: "test/unit/cache.test.ts",
  unitUpstream: "test/unit/upstream.test.ts",
  unitRender: "test/unit/render.test.ts",
  unitRequests: "test/unit/requests.test.ts",
  unitReadCapped: "test/unit/read-capped.test.ts",
};
