import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { MonotonicSeries } from "../../src/dashboard/monotonic.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

describe("MonotonicSeries", () => {
  test("holds a counter through a drop and keeps counting growth", () => {
    const series = new MonotonicSeries();
    expect([10, 12, 4, 6, 6].map((raw) => series.value("c", raw))).toEqual([10, 12, 12, 14, 14]);
  });

  test("keeps histogram buckets cumulative when only some buckets drop", () => {
    const series = new MonotonicSeries();
    const histogram = (counts: number[], count: number) =>
      series.histogram("h", { boundsMs: [100, 1000], counts, count, sumMs: 0 });
    histogram([5, 5], 5);
    // Five fast runs purged while five slow ones arrived: the first bucket drops, the others grow.
    const after = histogram([0, 5], 10);
    expect(after.counts).toEqual([5, 5]);
    expect(after.count).toBe(10);
    const later = histogram([1, 7], 12);
    expect(later.counts).toEqual([6, 7]);
    expect(later.count).toBe(12);
  });
});
