/**
 * Which workers `worker stop` reports as forced (src/worker/stop.ts): one whose held
 * attempts were stopped, not one whose only job completed by itself between the store read
 * and the release signal. The processes themselves are in test/e2e/worker-stop-escalation.test.ts.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import { stoppedAny } from "../../src/worker/stop.ts";

setDefaultTimeout(5_000);

function after(jobs: Record<string, Pick<Job, "state" | "token"> | null>): Map<string, Job | null> {
  return new Map(Object.entries(jobs).map(([id, job]) => [id, job as Job | null]));
}

describe("stoppedAny", () => {
  test("an attempt handed back, failed or no longer there was stopped", () => {
    const held = [{ id: "a", token: 3 }];
    expect(stoppedAny(held, after({ a: { state: "pending", token: 3 } }))).toBe(true);
    expect(stoppedAny(held, after({ a: { state: "dead", token: 3 } }))).toBe(true);
    expect(stoppedAny(held, after({ a: null }))).toBe(true);
    // Handed back, then claimed and completed by another worker: still this worker's stop.
    expect(stoppedAny(held, after({ a: { state: "completed", token: 4 } }))).toBe(true);
  });

  test("an attempt that completed by itself under the same token was not", () => {
    expect(stoppedAny([{ id: "a", token: 3 }], after({ a: { state: "completed", token: 3 } }))).toBe(false);
    expect(
      stoppedAny(
        [
          { id: "a", token: 3 },
          { id: "b", token: 1 },
        ],
        after({ a: { state: "completed", token: 3 }, b: { state: "pending", token: 1 } }),
      ),
    ).toBe(true);
  });
});
