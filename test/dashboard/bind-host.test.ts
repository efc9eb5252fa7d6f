/**
 * `dashboard --host` of digits and dots is checked as the system's resolver reads an IPv4
 * address, before any DNS lookup: the short forms Linux binds (`0`, `127.1`, a 32-bit number)
 * pass, and what no resolver reads as an address (a part over 255, an empty part, five parts)
 * is refused at once, whether or not a DNS server answers.
 */

import { describe, expect, test } from "bun:test";
import { isDecimalIPv4 } from "../../src/dashboard/security.ts";

describe("a --host of digits and dots", () => {
  test.each(["0", "127.1", "2130706433", "127.0.0.1", "10.0.65535", "0.0.0.0"])(
    "%p is an address",
    (host) => {
      expect(isDecimalIPv4(host)).toBe(true);
    },
  );

  test.each(["999.1.1.1", "1.2.3.4.", "1.2.3.4.5", "4294967296", "10.0.65536", ".1", "1..2"])(
    "%p is no address",
    (host) => {
      expect(isDecimalIPv4(host)).toBe(false);
    },
  );
});
