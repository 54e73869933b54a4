import { describe, expect, it } from "vitest";
import { originOf } from "../../src/http/origin";

describe("originOf", () => {
  // The judge is the URL parser: every spelling a request's url can take gives its origin.
  const urls = [
    "https://edge.example/widget/track/1",
    "https://edge.example/widget/track/1?accent=%23abc&theme=dark",
    "http://127.0.0.1:8787/feeds/artist/3.atom",
    "http://[::1]:8787/v1/tracks/1",
    "https://beatpass-edge.someone.workers.dev/",
    "https://user:pw@edge.example/widget/track/1",
    "https://edge.example:8443/x/y?z=/w",
    "https://xn--bcher-kva.example/a",
  ];
  it.each(urls)("%s", (url) => {
    expect(originOf(url)).toBe(new URL(url).origin);
  });

  it("an origin never takes in userinfo, a path or a query", () => {
    expect(originOf("https://a@b.example/c")).toBe("https://b.example");
    expect(originOf("https://edge.example/p?q=https://other.example/")).toBe("https://edge.example");
  });
});
