/**
 * A line that repeats is folded (core/repeated-lines.ts): printed the first time, counted
 * while it repeats within the window, printed with that count once the window has passed.
 */

import { expect, test } from "bun:test";
import { RepeatedLines } from "../../src/core/repeated-lines.ts";

test("the same line within the window is folded, and the next one after it says how many were", () => {
  let now = 0;
  const lines = new RepeatedLines(60_000, () => now);
  expect(lines.fold("rescue failed: cannot reach PostgreSQL")).toBe("rescue failed: cannot reach PostgreSQL");
  for (let second = 1; second < 60; second++) {
    now = second * 1000;
    expect(lines.fold("rescue failed: cannot reach PostgreSQL")).toBeNull();
  }
  // Another line is not held up by the first.
  expect(lines.fold("webhooks failed: cannot reach PostgreSQL")).toBe(
    "webhooks failed: cannot reach PostgreSQL",
  );
  now = 60_000;
  expect(lines.fold("rescue failed: cannot reach PostgreSQL")).toBe(
    "rescue failed: cannot reach PostgreSQL (59 more times in the last 60s)",
  );
  // Counted afresh from there; a line that did not repeat comes back as it is.
  now = 61_000;
  expect(lines.fold("rescue failed: cannot reach PostgreSQL")).toBeNull();
  now = 200_000;
  expect(lines.fold("rescue failed: cannot reach PostgreSQL")).toBe(
    "rescue failed: cannot reach PostgreSQL (1 more time in the last 140s)",
  );
  expect(lines.fold("webhooks failed: cannot reach PostgreSQL")).toBe(
    "webhooks failed: cannot reach PostgreSQL",
  );
});

test("a hundred other lines in between push the oldest out: it is printed again, never lost", () => {
  let now = 0;
  const lines = new RepeatedLines(60_000, () => now);
  expect(lines.fold("first")).toBe("first");
  for (let index = 0; index < 100; index++) {
    now += 1;
    expect(lines.fold(`line ${index}`)).toBe(`line ${index}`);
  }
  expect(lines.fold("first")).toBe("first");
});
