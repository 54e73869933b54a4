/**
 * A value built by its first reader and kept. Schemas are declared this way (schemas/*.ts,
 * contract.ts): zod builds each one with a few objects and closures, and an isolate's first
 * request would otherwise build every route's schemas, /healthz's too. Built per route, a
 * route pays only for the schemas it reads (test/fleet/cold-start.test.ts counts them).
 */
export function once<T>(build: () => T): () => T {
  let built = false;
  let value: T;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value;
  };
}
