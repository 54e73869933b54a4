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

/**
 * `npm run mutants`: mutation testing of the code where a bug costs most. Each mutant in
 * test/mutants/ is one named, realistic change to one line of src/. For each, a scratch copy
 * of the project gets the change, the mutant's own test files run (stopping at the first
 * failure), and, if they all pass, the whole Worker suite runs. A mutant is killed when a
 * test fails (or the run hangs past its budget), survived otherwise. Writes bench/MUTATION.md.
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
  "raster",
  "vitest.config.ts",
  "wrangler.toml",
  "tsconfig.json",
  "tsconfig.types.json",
  "package.json",
];
// A run that takes this long is a hang the mutant caused (the suite takes about a minute).
const RUN_BUDGET_MS = 5 * 60_000;

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
  const baseline = await vitest(copies[0], []);
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
      if (r.result !== "equivalent")
        console.log(
          `[${done}/${selected.length}] ${r.result.padEnd(13)} ${m.id} (${r.stage}, ${(r.ms / 1000).toFixed(0)} s)${
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
} else console.log(writeReport(results, Date.now() - started));

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
  if (m.equivalent) return { m, result: "equivalent", ms: 0 };
  const original = readFileSync(join(ROOT, m.file), "utf8");
  const t0 = Date.now();
  writeFileSync(join(dir, m.file), apply(original, m));
  try {
    let run;
    for (const file of m.tests) {
      run = await vitest(dir, [file]);
      if (!run.passed) return finish(m, run, "own tests", t0);
    }
    if (quick) return finish(m, run, "own tests", t0);
    return finish(m, await vitest(dir, []), "whole suite", t0);
  } finally {
    writeFileSync(join(dir, m.file), original);
  }
}

function finish(m, run, stage, t0) {
  const result = run.timedOut ? "killed (hang)" : run.passed ? "survived" : "killed";
  return { m, result, stage, ms: Date.now() - t0, killedBy: run.passed ? undefined : run.failure };
}

/** Runs the Worker, types and raster projects of vitest in `dir`: the given files, or all of them. */
function vitest(dir, files) {
  const report = join(dir, "mutant-result.json");
  rmSync(report, { force: true });
  return new Promise((resolvePromise) => {
    const child = spawn(
      NODE,
      [
        "node_modules/vitest/vitest.mjs",
        "run",
        "--project",
        "workers",
        // The client types' project (tsc runs): the OpenAPI and AppType mutants are judged there.
        "--project",
        "types",
        // The rasteriser's encoder and drawing (Node, resvg): the PNG mutants are judged there.
        "--project",
        "raster",
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
    for (const file of r.testResults ?? []) {
      const failed = file.assertionResults?.find((a) => a.status === "failed");
      if (failed) return `${file.name.replace(/^.*?\/test\//, "test/")} > ${failed.fullName}`;
      if (file.status === "failed")
        return `${file.name.replace(/^.*?\/test\//, "test/")} (${file.message?.split("\n")[0]})`;
    }
  } catch {
    // no report: vitest itself failed
  }
  return undefined;
}

function apply(source, m) {
  return source.replace(m.from, () => m.to);
}

/** Every mutant names a file, changes exactly one place in it, and names its tests. */
function checkCatalogue(mutants) {
  const problems = [];
  const ids = new Set();
  for (const m of mutants) {
    if (ids.has(m.id)) problems.push(`${m.id}: duplicate id`);
    ids.add(m.id);
    let source;
    try {
      source = readFileSync(join(ROOT, m.file), "utf8");
    } catch {
      problems.push(`${m.id}: no file ${m.file}`);
      continue;
    }
    const count = source.split(m.from).length - 1;
    if (count !== 1) problems.push(`${m.id}: "${m.from}" occurs ${count} times in ${m.file} (must be once)`);
    if (m.from === m.to) problems.push(`${m.id}: changes nothing`);
    if (!m.equivalent && !m.tests?.length) problems.push(`${m.id}: names no test files`);
    if (!m.why) problems.push(`${m.id}: says not why it matters`);
  }
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(2);
  }
}

function writeReport(results, totalMs) {
  const counted = results.filter((r) => r.result !== "equivalent");
  const killed = counted.filter((r) => r.result.startsWith("killed")).length;
  const survived = counted.filter((r) => r.result === "survived");
  const score = counted.length ? (100 * killed) / counted.length : 0;
  const byModule = new Map();
  for (const r of results) {
    const mod = r.m.file.replace(/^src\//, "");
    const row = byModule.get(mod) ?? { total: 0, killed: 0, survived: 0, equivalent: 0 };
    row.total++;
    if (r.result === "equivalent") row.equivalent++;
    else if (r.result === "survived") row.survived++;
    else row.killed++;
    byModule.set(mod, row);
  }
  const esc = (s) =>
    String(s ?? "")
      .replace(/\|/g, "\\|")
      .replace(/\n/g, " ");
  const code = (s) => `\`${esc(s).replace(/`/g, "'")}\``;
  const lines = [
    "# Mutation testing",
    "",
    `Generated by \`npm run mutants\` (scripts/mutants.mjs) on ${new Date().toISOString()}${
      prefixes.length ? `, for ids starting with ${prefixes.join(", ")}` : ""
    }.`,
    "",
    `- Machine: ${cpus().length} × ${cpus()[0]?.model.replace(/\s+/g, " ").trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    `- Took ${(totalMs / 60_000).toFixed(1)} minutes. Each mutant: its own test files first (stopping at the first failure), then, if they pass, the whole Worker suite.`,
    `- **Mutation score: ${score.toFixed(1)}%** (${killed} killed of ${counted.length}; ${
      results.length - counted.length
    } equivalent mutants excluded and listed below).`,
    "",
    "## By module",
    "",
    "| module | mutants | killed | survived | equivalent |",
    "| --- | --- | --- | --- | --- |",
    ...[...byModule].map(([mod, r]) => `| ${mod} | ${r.total} | ${r.killed} | ${r.survived} | ${r.equivalent} |`),
    "",
    "## Every mutant",
    "",
    "| id | file | change | why it matters | result | killed by |",
    "| --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.m.id} | ${r.m.file} | ${code(r.m.from)} → ${code(r.m.to)} | ${esc(r.m.why)} | ${
          r.result === "equivalent" ? `equivalent: ${esc(r.m.equivalent)}` : r.result
        } | ${esc(r.killedBy ?? "")} |`,
    ),
    "",
    "## Survivors",
    "",
    ...(survived.length
      ? survived.flatMap((r) => [
          `### ${r.m.id}`,
          "",
          r.m.why,
          "",
          "```diff",
          `--- ${r.m.file}`,
          `+++ ${r.m.file} (mutant)`,
          ...r.m.from.split("\n").map((l) => `- ${l}`),
          ...r.m.to.split("\n").map((l) => `+ ${l}`),
          "```",
          "",
        ])
      : ["None.", ""]),
  ];
  writeFileSync("bench/MUTATION.md", `${lines.join("\n")}\n`);
  return `${killed} killed, ${survived.length} survived, ${
    results.length - counted.length
  } equivalent: mutation score ${score.toFixed(1)}% (bench/MUTATION.md)`;
}
