import { describe, expect, it } from "vitest";
import { ipLimitKey, UNKNOWN_IP_KEY } from "../../src/clients/ip";

describe("ipLimitKey", () => {
  it("an IPv4 client is keyed by its address, however it is padded or mapped", () => {
    const key = ipLimitKey("192.0.2.1");
    expect(key).toBe("ip:192.0.2.1");
    for (const spelling of [" 192.0.2.1 ", "::ffff:192.0.2.1", "::FFFF:c000:201", "0:0:0:0:0:ffff:192.0.2.1"])
      expect(ipLimitKey(spelling), spelling).toBe(key);
  });

  it("every octet from 0 to 255 is read, and nothing past it", () => {
    for (const octet of [0, 9, 10, 99, 100, 199, 200, 249, 250, 255])
      expect(ipLimitKey(`10.${octet}.0.1`)).toBe(`ip:10.${octet}.0.1`);
    for (const text of ["256.0.0.1", "10.0.0.300", "10.0.0", "10.0.0.1.2", "010.0.0.1", "10.00.0.1", "1e1.0.0.1"])
      expect(ipLimitKey(text), text).toBe(`ip:?${text}`);
  });

  it("an IPv4 address inside IPv6 notation follows the same rule", () => {
    expect(ipLimitKey("::ffff:10.0.0.1")).toBe("ip:10.0.0.1");
    expect(ipLimitKey("::ffff:010.0.0.1")).toBe("ip:?::ffff:010.0.0.1");
  });

  it("no address is one shared key", () => {
    expect(ipLimitKey(undefined)).toBe(UNKNOWN_IP_KEY);
    expect(ipLimitKey("   ")).toBe(UNKNOWN_IP_KEY);
  });
});
