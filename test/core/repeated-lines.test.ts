/**
 * A line that repeats is folded (core/repeated-lines.ts): written the first time, counted
 * while it repeats within the window, and written with that count when the window closes,
 * so nothing is hidden for longer than a window. A clock and timers of the test's own.
 */

import { expect, test } from "bun:test";
import { RepeatedLines } from "../../src/core/repeated-lines.ts";

/** A RepeatedLines on a clock the test moves; `advance` fires the timers that fall due. */
function folding() {
  let now = 0;
  const timers: { at: number; run: () => void; canceled: boolean }[] = [];
  const written: string[] = [];
  const lines = new RepeatedLines((line) => written.push(line), {
    windowMs: 60_000,
    now: () => now,
    later: (run, ms) => {
      const timer = { at: now + ms, run, canceled: false };
      timers.push(timer);
      return () => {
        timer.canceled = true;
      };
    },
  });
  const advance = (to: number) => {
    for (;;) {
      const due = timers.filter((timer) => !timer.canceled && timer.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.canceled = true;
      now = due.at;
      due.run();
    }
    now = to;
  };
  return { lines, written, advance };
}

const RESCUE = "rescue failed: cannot reach PostgreSQL";
const WEBHOOKS = "webhooks failed: cannot reach PostgreSQL";

test("a line repeated within the window is counted, and its count written when the window closes", () => {
  const { lines, written, advance } = folding();
  lines.print(RESCUE);
  for (let second = 1; second < 60; second++) {
    advance(second * 1000);
    lines.print(RESCUE);
  }
  // Another line is not held up by the first.
  lines.print(WEBHOOKS);
  expect(written).toEqual([RESCUE, WEBHOOKS]);
  advance(60_000);
  expect(written).toEqual([RESCUE, WEBHOOKS, `${RESCUE} (59 more times in the last 60s)`]);
  // A new window from there: a line that did not repeat in it is written as it is, later.
  advance(200_000);
  lines.print(RESCUE);
  expect(written.at(-1)).toBe(RESCUE);
});

test("a second outage inside the first one's window is told when that window closes, not hidden", () => {
  const { lines, written, advance } = folding();
  lines.print(RESCUE);
  advance(30_000);
  for (let second = 30; second <= 50; second++) {
    advance(second * 1000);
    lines.print(RESCUE);
  }
  // Nothing more comes: the window's close tells the count all the same.
  advance(600_000);
  expect(written).toEqual([RESCUE, `${RESCUE} (21 more times in the last 60s)`]);
});

test("a hundred other lines in between push the oldest out, with its count: nothing is lost", () => {
  const { lines, written } = folding();
  lines.print("first");
  lines.print("first");
  for (let index = 0; index < 100; index++) lines.print(`line ${index}`);
  expect(written).toContain("first (1 more time)");
  lines.print("first");
  expect(written.at(-1)).toBe("first");
});
