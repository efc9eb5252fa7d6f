/**
 * How soon a watcher plans a refused folder again (jobfiles/refusal-retry.ts): 1 s, 2 s, then
 * every 4 s, or every ten plans' time for a folder slow to plan; from scratch once nothing is
 * refused.
 */

import { expect, test } from "bun:test";
import { RefusalRetry } from "../../src/jobfiles/refusal-retry.ts";

function waits(retry: RefusalRetry, times: number, planMs: number): number[] {
  const seen: number[] = [];
  for (let index = 0; index < times; index++) {
    retry.afterSync(true, planMs);
    seen.push(retry.currentWaitMs);
  }
  return seen;
}

test("a refusal that lasts is planned again every 4 s, or every ten plans' time when longer", () => {
  const retry = new RefusalRetry(() => {}, 60_000);
  try {
    expect(waits(retry, 6, 20)).toEqual([1000, 2000, 4000, 4000, 4000, 4000]);
    retry.afterSync(false);
    expect(retry.currentWaitMs).toBe(0);
    expect(waits(retry, 6, 1200)).toEqual([1000, 2000, 4000, 8000, 12_000, 12_000]);
  } finally {
    retry.close();
  }
});
