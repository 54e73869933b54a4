import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { MUTANTS } from "../test/mutants/index.mjs";
import { catalogueProblems, REPORT_FILE, RESULTS_FILE, readResults, renderReport, tally } from "./mutation-report.mjs";

/**
 * `npm run mutants`: mutation testing of the code where a bug costs most. Each mutant in
 * test/mutants/ is one named, realistic change to one line of src/. For each, a scratch copy
 * of the project gets the change, the mutant's own test files run (stopping at the first
 * failure), and, if they all pass, the whole suite runs (the workers, types and raster
 * projects; the fleet project too for the budget and admission code, whose promises hold
 * across isolates). A mutant is killed when a test fails (or the run hangs past its budget),
 * survived otherwise. Mutants marked equivalent run the same way: they must survive.
 * Records every outcome in bench/mutation-results.json and renders bench/MUTATION.md from it
 * (scripts/mutation-report.mjs); a run of some mutants replaces their records only.
 *
 *   npm run mutants                       every mutant
 *   npm run mutants -- client- guard-     only ids starting with these prefixes
 *   npm run mutants -- --list             list the mutants and check they apply, run nothing
 *   npm run mutants -- --quick html-      own test files only, no baseline, no report (while
 *                                         writing tests; several may run at once)
 *
 * Why not StrykerJS: see CONTRIBUTING.md ("Mutation testing").
 */
const ROOT = process.cwd();
// vitest 5 needs Node 22+: use the project's own Node (node-linux-*) even when this script
// was started with an older one.
const NODE = existsSync(join(ROOT, "node_modules/.bin/node")) ? join(ROOT, "node_modules/.bin/node") : process.execPath;
const COPY = [
  "src",
  "test",
  "fake",
  "scripts",
  "sim",
  "bench",
  "raster",
  "vitest.config.ts",
  "wrangler.toml",
  "tsconfig.json",
  "tsconfig.types.json",
  "package.json",
];
// A run that takes this long is a hang the mutant caused (the whole suite with the fleet
// takes about 6 minutes with two runs side by side).
const RUN_BUDGET_MS = 20 * 60_000;
/** Code whose promises hold across isolates: its mutants are judged by the fleet tests too. */
const FLEET_CODE = /^src\/(budget\/|upstream\/guard\.ts$|cache\/(engine|loads)\.ts$|clients\/miss-budget\.ts$)/;
const SUITE = ["workers", "types", "raster"];

const args = process.argv.slice(2);
const listOnly = args.includes("--list");
const quick = args.includes("--quick");
const prefixes = args.filter((a) => !a.startsWith("--"));
const selected = prefixes.length ? MUTANTS.filter((m) => prefixes.some((p) => m.id.startsWith(p))) : MUTANTS;

checkCatalogue(MUTANTS);
if (listOnly) {
  for (const m of selected) console.log(`${m.id.padEnd(40)} ${m.file}  ${m.equivalent ? "(equivalent)" : ""}`);
  console.log(`${selected.length} mutants apply cleanly.`);
  process.exit(0);
}

// Scratch copies of the project, one per parallel job: the packages are shared, the caches
// vite and miniflare write next to them are not.
const JOBS = Math.max(1, Number(process.env.MUTANT_JOBS ?? 2));
const copies = Array.from({ length: Math.min(JOBS, Math.max(1, selected.length)) }, makeCopy);
process.on("exit", () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});
process.on("SIGINT", () => process.exit(130));

const started = Date.now();
if (!quick) {
  console.log(`baseline: the whole Worker suite on unmutated code`);
  const baseline = await vitest(copies[0], [...SUITE, "fleet"], []);
  if (!baseline.passed) {
    console.error(baseline.output.slice(-4000));
    console.error("The suite fails without any mutant: fix that first.");
    process.exit(1);
  }
}

const results = [];
let next = 0;
let done = 0;
await Promise.all(
  copies.map(async (dir) => {
    while (next < selected.length) {
      const m = selected[next++];
      const r = await runMutant(dir, m);
      results.push(r);
      done++;
      console.log(
        `[${done}/${selected.length}] ${r.result.padEnd(14)} ${m.id} (${r.stage}, ${(r.ms / 1000).toFixed(0)} s)${
          r.killedBy ? ` by ${r.killedBy}` : ""
        }`,
      );
    }
  }),
);
results.sort((a, b) => selected.indexOf(a.m) - selected.indexOf(b.m));

if (quick) {
  const survivors = results.filter((r) => r.result === "survived").map((r) => r.m.id);
  console.log(`${survivors.length} survived their own tests${survivors.length ? `: ${survivors.join(", ")}` : ""}`);
} else console.log(record(results, Date.now() - started));

function makeCopy() {
  const dir = mkdtempSync(join(tmpdir(), "beatpass-edge-mutants-"));
  for (const entry of COPY) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  mkdirSync(join(dir, "node_modules"));
  for (const name of readdirSync(join(ROOT, "node_modules"))) {
    if (![".vite", ".vite-temp", ".mf", ".cache"].includes(name))
      symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name));
  }
  return dir;
}

/**
 * Applies one mutant in `dir` and runs its test files one at a time, most likely killer
 * first, stopping at the first failure; if all pass (and this is not a quick run), the whole
 * Worker suite. The file is restored whatever happens.
 */
async function runMutant(dir, m) {
  const original = readFileSync(join(ROOT, m.file), "utf8");
  const t0 = Date.now();
  writeFileSync(join(dir, m.file), apply(original, m));
  try {
    let run;
    for (const file of m.tests ?? []) {
      run = await vitest(dir, projectsFor([file]), [file]);
      if (!run.passed) return finish(m, run, "own tests", t0);
    }
    if (quick && run) return finish(m, run, "own tests", t0);
    const whole = FLEET_CODE.test(m.file) ? [...SUITE, "fleet"] : SUITE;
    return finish(m, await vitest(dir, whole, []), "whole suite", t0);
  } finally {
    writeFileSync(join(dir, m.file), original);
  }
}

function finish(m, run, stage, t0) {
  const killed = !run.passed;
  const result = m.equivalent
    ? killed
      ? "not equivalent"
      : "equivalent"
    : run.timedOut
      ? "killed (hang)"
      : killed
        ? "killed"
        : "survived";
  return { m, result, stage, ms: Date.now() - t0, killedBy: killed ? run.failure : undefined };
}

/** The vitest projects that hold these test files (vitest.config.ts names them by folder). */
function projectsFor(files) {
  const projects = new Set();
  for (const f of files) {
    if (f.startsWith("test/fleet/")) projects.add("fleet");
    else if (f.startsWith("test/types/")) projects.add("types");
    else if (/^test\/e2e\/raster[\w-]*\.test\.ts$/.test(f)) projects.add("raster");
    else projects.add("workers");
  }
  return [...projects];
}

/** Runs the given vitest projects in `dir`: the given files, or all of them. */
function vitest(dir, projects, files) {
  const report = join(dir, "mutant-result.json");
  rmSync(report, { force: true });
  return new Promise((resolvePromise) => {
    const child = spawn(
      NODE,
      [
        "node_modules/vitest/vitest.mjs",
        "run",
        ...projects.flatMap((p) => ["--project", p]),
        "--bail=1",
        "--reporter=dot",
        "--reporter=json",
        `--outputFile.json=${report}`,
        ...files,
      ],
      { cwd: dir, env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" } },
    );
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, RUN_BUDGET_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const failure = firstFailure(report);
      // No report and no hang: vitest itself could not run (wrong Node, broken config). That
      // says nothing about the mutant; stop rather than count it as killed.
      if (code !== 0 && !timedOut && !failure) {
        console.error(output.slice(-3000));
        console.error(`vitest could not run in ${dir}; stopping.`);
        process.exit(3);
      }
      resolvePromise({ passed: code === 0 && !timedOut, timedOut, output, failure });
    });
  });
}

/** The first failing test ("file > suite > test"), from vitest's JSON report. */
function firstFailure(report) {
  try {
    const r = JSON.parse(readFileSync(report, "utf8"));
    // A failed test first, wherever it is: after a bail, files that never finished are marked
    // failed too, with no message, and would otherwise take the credit (it named raster.test.ts).
    for (const file of r.testResults ?? []) {
      const failed = file.assertionResults?.find((a) => a.status === "failed");
      if (failed) return `${file.name.replace(/^.*?\/test\//, "test/")} > ${failed.fullName}`;
    }
    for (const file of r.testResults ?? []) {
      if (file.status === "failed" && file.message)
        return `${file.name.replace(/^.*?\/test\//, "test/")} (${file.message.split("\n")[0]})`;
    }
  } catch {
    // no report: vitest itself failed
  }
  return undefined;
}

function apply(source, m) {
  return source.replace(m.from, () => m.to);
}

function checkCatalogue(mutants) {
  const problems = catalogueProblems(mutants);
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(2);
  }
}

/**
 * Replaces the records of the mutants just run (a full run replaces all), drops records of
 * mutants no longer in the catalogue, and renders the report from the records.
 */
function record(results, totalMs) {
  const store = prefixes.length ? readResults() : { runs: [], results: {} };
  const ids = new Set(MUTANTS.map((m) => m.id));
  const run = {
    id: (store.runs.at(-1)?.id ?? 0) + 1,
    at: new Date().toISOString(),
    prefixes,
    mutants: results.length,
    minutes: Number((totalMs / 60_000).toFixed(1)),
    machine: `${cpus().length} × ${cpus()[0]?.model.replace(/\s+/g, " ").trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  };
  for (const r of results) {
    store.results[r.m.id] = {
      file: r.m.file,
      from: r.m.from,
      to: r.m.to,
      ...(r.m.equivalent ? { equivalent: true } : {}),
      result: r.result,
      stage: r.stage,
      ...(r.killedBy ? { killedBy: r.killedBy } : {}),
      run: run.id,
    };
  }
  for (const id of Object.keys(store.results)) if (!ids.has(id)) delete store.results[id];
  // Only runs some record still comes from stay listed.
  const used = new Set(Object.values(store.results).map((r) => r.run));
  store.runs = [...store.runs.filter((r) => used.has(r.id)), run];
  store.results = Object.fromEntries(Object.entries(store.results).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(RESULTS_FILE, `${JSON.stringify(store, null, 2)}\n`);
  writeFileSync(REPORT_FILE, renderReport(store, MUTANTS));
  const t = tally(store, MUTANTS);
  return `${t.killed} killed, ${t.survived} survived, ${t.equivalent} equivalent (checked), ${t.notEquivalent} wrongly marked equivalent, ${t.missing.length} not run: mutation score ${t.score.toFixed(1)}% (${REPORT_FILE})`;
}
