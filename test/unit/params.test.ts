import { describe, expect, it } from "vitest";
import { rawValues } from "../../src/routes/params";

describe("rawValues (memo keys of raw parameters)", () => {
  const names = ["a", "b"];
  const key = (raw: Record<string, string | undefined>) => rawValues(raw, names);

  it("tells apart inputs that differ in any read parameter", () => {
    const inputs: Record<string, string | undefined>[] = [
      {},
      { a: "" },
      { b: "" },
      { a: "", b: "" },
      { a: "x|" },
      { a: "x", b: "" },
      { a: "x", b: "|" },
      { a: "1:x" },
      { a: "1", b: "x" },
      { a: "|1:x" },
      { b: "|1:x" },
    ];
    const keys = inputs.map(key);
    expect(new Set(keys).size).toBe(inputs.length);
  });

  it("reads only the named parameters, in the names' order, whatever else the URL holds", () => {
    expect(key({ a: "1", utm_source: "x", zz: "y" })).toBe(key({ a: "1" }));
    expect(key({ b: "2", a: "1" })).toBe(key({ a: "1", b: "2" }));
  });
});
