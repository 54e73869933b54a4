import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs the README's `npm start` (scripts/start.mjs: wrangler dev on workerd + the fake
 * BeatPass) on the given ports, with its own KV state folder, and stops it again.
 */
export interface Stack {
  base: string;
  fake: string;
  state: string;
  output: () => string;
  stop: () => Promise<void>;
}

export async function startStack(proxyPort: number, fakePort: number): Promise<Stack> {
  const state = mkdtempSync(join(tmpdir(), "beatpass-edge-e2e-"));
  let output = "";
  const child: ChildProcess = spawn(process.execPath, ["scripts/start.mjs", "--persist-to", state], {
    env: { ...process.env, PORT: String(proxyPort), FAKE_BEATPASS_PORT: String(fakePort), WRANGLER_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => {
    output += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d;
  });
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(-child.pid, "SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + 45_000;
  while (!output.includes("beatpass-edge is up")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base: `http://127.0.0.1:${proxyPort}`,
    fake: `http://127.0.0.1:${fakePort}`,
    state,
    output: () => output,
    stop,
  };
}
