/** Which numbers of a JSON text JSON.parse would read as other numbers. */

import { expect, test } from "bun:test";
import { findInexactJsonNumber } from "../../src/core/json-text.ts";

test("numbers whose digits a double cannot keep are found; other spellings of one number are not", () => {
  expect(findInexactJsonNumber("[12345678901234567890, 0.1]")).toBe("12345678901234567890");
  expect(findInexactJsonNumber('{"n": 0.1000000000000000000001}')).toBe("0.1000000000000000000001");
  expect(findInexactJsonNumber("[9007199254740993]")).toBe("9007199254740993");
  expect(findInexactJsonNumber("[1e400]")).toBe("1e400");
  const kept =
    '{"a": 1.0, "b": 1e3, "c": -0.0010, "d": 0.30000000000000004, "e": 9007199254740992, "f": 5e-324}';
  expect(findInexactJsonNumber(kept)).toBeUndefined();
  // Digits inside strings are text, kept as written.
  expect(
    findInexactJsonNumber('{"id": "12345678901234567890", "q": "say \\"99999999999999999999\\""}'),
  ).toBeUndefined();
});
