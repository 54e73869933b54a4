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

  it("an IPv6 client is keyed by its /64, however the address is spelled", () => {
    const spellings: [string, string[]][] = [
      ["2001:db8:a:1f::1", ["2001:0DB8:000a:001F:0:0:0:1", "[2001:db8:a:1f::1]", " 2001:db8:a:1f:0::1 "]],
      ["2001:db8:a:1f:1:2:3:4", ["2001:db8:a:1f:0001:2:3:4", "2001:DB8:A:1F:1:2:3:4"]],
      ["2001:db8:0:0:5::", ["2001:db8::5:0:0:0", "2001:db8:0:0:5:0:0:0"]],
      ["2a00:1:2:3:4:5::6", ["2a00:1:2:3:4:5:0:6", "2a00:0001:2:3:4:5::6"]],
      ["fe80:0:0:0:1:2:3::", ["fe80::1:2:3:0", "fe80:0:0:0:1:2:3:0%eth0"]],
      ["2001:db8:1:2::", ["2001:db8:1:2:0:0:0:0"]],
    ];
    for (const [canonical, others] of spellings) {
      const key = ipLimitKey(canonical);
      expect(key, canonical).toMatch(/^ip:[0-9a-f:]+::\/64$/);
      expect(key.split(":").slice(1, 5).join(":"), canonical).toBe(canonical.split(":").slice(0, 4).join(":"));
      for (const other of others) expect(ipLimitKey(other), other).toBe(key);
    }
    // Near misses are not addresses, however close they look.
    for (const text of [
      "2001:db8:a:1f::1::2",
      "2001:db8:a:1f::1:2:3:4",
      "2001:db8:a:1f:1:2:3:4:5",
      "2001:db8:a:1f:1:2:3::4",
      "2001:db8:a:1f:1:2:3",
      "2001:db8:a:1f:12345::",
    ])
      expect(ipLimitKey(text), text).toBe(`ip:?${text}`);
    // Written out in full, an IPv4-mapped address is still its IPv4 client.
    expect(ipLimitKey("0:0:0:0:0:ffff:c000:201")).toBe("ip:192.0.2.1");
  });

  it("no address is one shared key", () => {
    expect(ipLimitKey(undefined)).toBe(UNKNOWN_IP_KEY);
    expect(ipLimitKey("   ")).toBe(UNKNOWN_IP_KEY);
  });
});
