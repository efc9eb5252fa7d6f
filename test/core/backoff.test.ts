import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decideAfterFailure, retryDelayMs } from "../../src/core/backoff.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

describe("retry schedule", () => {
  test("base 2 doubles: 2 s, 4 s, 8 s", () => {
    expect([1, 2, 3].map((n) => retryDelayMs(n, 2, 3600))).toEqual([2000, 4000, 8000]);
  });

  test("the cap bounds one delay", () => {
    expect(retryDelayMs(20, 2, 60)).toBe(60_000);
  });

  test("max_retries = 0 runs once, then the DLQ", () => {
    const now = 1_000_000;
    expect(
      decideAfterFailure({ attempts: 1, maxRetries: 0, now, backoffBase: 2, backoffMaxSeconds: 3600 }),
    ).toEqual({
      state: "dead",
      nextRunAt: now,
    });
  });

  test("a job runs at most 1 + max_retries times", () => {
    const now = 5_000;
    const decide = (attempts: number) =>
      decideAfterFailure({ attempts, maxRetries: 3, now, backoffBase: 2, backoffMaxSeconds: 3600 });
    expect(decide(1)).toEqual({ state: "failed", nextRunAt: now + 2000 });
    expect(decide(3)).toEqual({ state: "failed", nextRunAt: now + 8000 });
    expect(decide(4).state).toBe("dead");
  });
});
