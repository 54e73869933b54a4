import type { TestProject } from "vitest/node";
import { type StackInfo, startStack } from "./stack";

/**
 * One `npm start` stack (wrangler dev + the fake BeatPass) for every end-to-end file: each
 * wrangler dev costs seconds of CPU to start, and on a loaded 2-core machine a second one
 * was what pushed the suite past its timeouts.
 */
export default async function setup(project: TestProject) {
  // Other ports for a second checkout's run on the same machine (docs/development.md).
  const stack = await startStack(
    Number(process.env.E2E_PROXY_PORT ?? 18787),
    Number(process.env.E2E_FAKE_PORT ?? 18790),
  );
  project.provide("stack", stack.info());
  return () => stack.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}
