import { describe, expect, it } from "vitest";
import {
  commaListSchema,
  idParamsSchema,
  listQuerySchema,
  searchQuerySchema,
  TAG_NAME_PATTERN,
  trackListQuerySchema,
} from "../../src/schemas/requests";

describe("request schemas", () => {
  it.each(["1", "42", "2147483647"])("accepts id %s", (id) => {
    expect(idParamsSchema().parse({ id })).toEqual({ id: Number(id) });
  });

  it.each(["0", "01", "-1", "1.0", "1e2", " 1", "+1", "0x1", "2147483648", "", "me", "1/2"])("rejects id %j", (id) => {
    expect(idParamsSchema().safeParse({ id }).success).toBe(false);
  });

  it("applies list defaults and prefers per_page over perPage", () => {
    expect(listQuerySchema().parse({})).toEqual({ page: 1, per_page: 20 });
    expect(listQuerySchema().parse({ perPage: "7" })).toEqual({ page: 1, per_page: 7 });
    expect(listQuerySchema().parse({ per_page: "9", perPage: "7", page: "3" })).toEqual({ page: 3, per_page: 9 });
    expect(listQuerySchema().parse({ per_page: "999999" })).toEqual({ page: 1, per_page: 50 });
  });

  it("drops keys it does not know", () => {
    expect(trackListQuerySchema().parse({ page: "2", evil: "1", query: " x " })).toEqual({
      page: 2,
      per_page: 20,
      query: "x",
    });
  });

  it("canonicalises comma lists and refuses values outside the allowlist", () => {
    const s = commaListSchema(["a", "b", "c"]);
    expect(s.parse("c,a,,a, b")).toBe("a,b,c");
    expect(s.parse(",")).toBeUndefined();
    const bad = s.safeParse("a,../x");
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toContain('"../x"');
  });

  it("search needs a query and clamps limit", () => {
    expect(searchQuerySchema().parse({ query: "lofi" })).toEqual({ query: "lofi", limit: 3 });
    expect(searchQuerySchema().parse({ query: "lofi", limit: "99", types: "user,track" })).toEqual({
      query: "lofi",
      limit: 20,
      types: "track,user",
    });
    expect(searchQuerySchema().safeParse({}).success).toBe(false);
  });

  it.each(["dark", "808", "lo-fi", "hip hop", "boom_bap", "música", "ラップ"])("accepts tag %j", (t) => {
    expect(TAG_NAME_PATTERN.test(t)).toBe(true);
  });

  it.each([
    "",
    ".",
    "..",
    "../users",
    "a/b",
    "a\\b",
    "a%2fb",
    "-x",
    "x-",
    "a.b",
    "<b>",
    "a\u0000b",
    "x".repeat(51),
    "a  ",
  ])("rejects tag %j", (t) => {
    expect(TAG_NAME_PATTERN.test(t)).toBe(false);
  });
});
