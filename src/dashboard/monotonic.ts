/**
 * Keeps counters and histograms from going down when history is deleted.
 *
 * They are derived from the attempts table, and `purge` deletes old attempts. Prometheus
 * reads any decrease as a process restart and counts the whole new value as fresh
 * increase, so one purge would draw a spike of thousands of fake completions. Each series
 * therefore carries an offset: when its raw value drops, the drop is added to the offset
 * and the exposed value holds. Growth that lands in the same scrape interval as a purge
 * is partly hidden by it (an undercount of at most that interval), which is the safe side.
 *
 * Offsets live in this process: a restarted dashboard starts from the raw values, which
 * Prometheus handles as the restart it is.
 */

import type { HistogramCounts } from "../store/store.ts";

export class MonotonicSeries {
  private readonly last = new Map<string, number>();
  private readonly offset = new Map<string, number>();

  /** The exposed value of series `key` for this scrape's `raw` reading. */
  value(key: string, raw: number): number {
    const previous = this.last.get(key);
    let offset = this.offset.get(key) ?? 0;
    if (previous !== undefined && raw < previous) {
      offset += previous - raw;
      this.offset.set(key, offset);
    }
    this.last.set(key, raw);
    return raw + offset;
  }

  /**
   * The labels seen so far under `prefix` (`completed:` gives the queues a completion counter
   * was exposed for): a series once exposed stays exposed, even once purge deleted every row
   * that named its queue, or Prometheus would read its disappearance as a reset.
   */
  labelsSeen(prefix: string): string[] {
    const labels: string[] = [];
    for (const key of this.last.keys()) if (key.startsWith(prefix)) labels.push(key.slice(prefix.length));
    return labels;
  }

  /**
   * A histogram's buckets, count and sum, each kept from going down. The running maximum
   * keeps the buckets cumulative (a bucket never below the one before it, +Inf never below
   * the last bucket) even when offsets differ between buckets.
   */
  histogram(key: string, raw: HistogramCounts): HistogramCounts {
    let floor = 0;
    const counts = raw.counts.map((count, i) => {
      floor = Math.max(floor, this.value(`${key}:${raw.boundsMs[i]}`, count));
      return floor;
    });
    return {
      boundsMs: raw.boundsMs,
      counts,
      count: Math.max(floor, this.value(`${key}:count`, raw.count)),
      sumMs: this.value(`${key}:sum`, raw.sumMs),
    };
  }
}
