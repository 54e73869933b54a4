import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  catalogueProblems,
  currentRecord,
  REPORT_FILE,
  readResults,
  renderReport,
  tally,
} from "../../scripts/mutation-report.mjs";
import { MUTANTS } from "../mutants/index.mjs";

/**
 * bench/MUTATION.md is what `npm run mutants` wrote, for the catalogue as it is: every
 * mutant still applies to today's source, every one (equivalent ones included) has a record
 * of a run since it last changed, and the report is exactly the text the runner renders from
 * those records, so a hand edit, a stale equivalence claim or a mutant never run fails here.
 */
type Mutant = { id: string; file: string; from: string; to: string; tests?: string[]; equivalent?: string };
const catalogue = MUTANTS as Mutant[];
const store = readResults();

describe("the mutation report", () => {
  it("every mutant applies to today's source and names test files that exist", () => {
    expect(catalogueProblems(catalogue)).toEqual([]);
    const missing = catalogue.flatMap((m) => (m.tests ?? []).filter((f) => !existsSync(f)).map((f) => `${m.id}: ${f}`));
    expect(missing).toEqual([]);
  });

  it("every mutant was run since it last changed", () => {
    expect(tally(store, catalogue).missing).toEqual([]);
  });

  it("every equivalence claim was checked by a run it survived", () => {
    const claims = catalogue.filter((m) => m.equivalent);
    expect(claims.map((m) => [m.id, currentRecord(store, m)?.result])).toEqual(claims.map((m) => [m.id, "equivalent"]));
  });

  it("scores at least 95% (the project's bar)", () => {
    expect(tally(store, catalogue).score).toBeGreaterThanOrEqual(95);
  });

  it("counts a wrong equivalence claim as killed, and a changed mutant as not run", () => {
    const m = (id: string, extra: Partial<Mutant> = {}) => ({ id, file: "src/app.ts", from: "a", to: "b", ...extra });
    const rec = (result: string, extra: object = {}) => ({
      file: "src/app.ts",
      from: "a",
      to: "b",
      result,
      run: 1,
      ...extra,
    });
    const cat = [m("k"), m("s"), m("e", { equivalent: "why" }), m("w", { equivalent: "why" }), m("c", { to: "c" })];
    const t = tally(
      {
        runs: [],
        results: {
          k: rec("killed"),
          s: rec("survived"),
          e: rec("equivalent", { equivalent: true }),
          w: rec("not equivalent", { equivalent: true }),
          c: rec("killed"),
        },
      },
      cat,
    );
    expect(t).toMatchObject({ killed: 2, survived: 1, equivalent: 1, notEquivalent: 1, counted: 3, missing: ["c"] });
    expect(t.score).toBeCloseTo(66.7, 1);
  });

  it("is exactly what the runner renders from its records (never edited by hand)", () => {
    expect(readFileSync(REPORT_FILE, "utf8")).toBe(renderReport(store, catalogue));
  });
});
