import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs the README's `npm start` (scripts/start.mjs: wrangler dev on workerd + the fake
 * BeatPass) on the given ports, with its own KV state folder, and stops it again.
 */
export interface StackInfo {
  base: string;
  fake: string;
  /** The KV state folder wrangler dev was given (--persist-to). */
  state: string;
  /** What `npm start` printed up to "beatpass-edge is up". */
  output: string;
  /** Everything `npm start` prints, as it prints it (its request log included). */
  logFile: string;
}

export interface Stack {
  info: () => StackInfo;
  stop: () => Promise<void>;
}

export async function startStack(proxyPort: number, fakePort: number): Promise<Stack> {
  // A stack left over from an interrupted run would answer instead of this one.
  for (const port of [proxyPort, fakePort]) {
    if (await listening(port))
      throw new Error(`port ${port} is already in use: stop what holds it (a leftover npm start?)`);
  }
  const state = mkdtempSync(join(tmpdir(), "beatpass-edge-e2e-"));
  const logFile = join(state, "npm-start.log");
  let output = "";
  const child: ChildProcess = spawn(process.execPath, ["scripts/start.mjs", "--persist-to", state], {
    env: { ...process.env, PORT: String(proxyPort), FAKE_BEATPASS_PORT: String(fakePort) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const record = (d: Buffer) => {
    output += d;
    appendFileSync(logFile, d);
  };
  child.stdout?.on("data", record);
  child.stderr?.on("data", record);
  const stop = async () => {
    const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", r));
    // The whole process group: if start.mjs itself died, wrangler and workerd may live on.
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {
      // nothing left in the group
    }
    await exited;
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + 100_000; // start.mjs itself gives up after 90 s
  while (!output.includes("beatpass-edge is up")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    info: () => ({
      base: `http://127.0.0.1:${proxyPort}`,
      fake: `http://127.0.0.1:${fakePort}`,
      state,
      output,
      logFile,
    }),
    stop,
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
