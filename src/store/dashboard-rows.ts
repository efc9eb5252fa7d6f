/**
 * What both backends share for the dashboard's reads and `list`'s: the id search's LIKE
 * pattern, filter values, and the mapping of aggregate rows to records. Only the SQL that
 * produces the rows differs.
 */

import type { JobState } from "../core/job.ts";
import type {
  HistogramCounts,
  JobDependencyLinks,
  JobLink,
  MetricsSnapshot,
  ThroughputBucket,
} from "./records.ts";

type Row = Record<string, unknown>;

/** LIKE treats `%` and `_` as wildcards; a search for `a_b` means those characters literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function rowsToLinks(rows: Row[]): JobLink[] {
  return rows.map((row) => ({ id: String(row.id), state: (row.state ?? null) as JobState | null }));
}

export function rowsToDependencyLinks(
  upstream: Row[],
  downstream: Row[],
  total: Row | undefined,
): JobDependencyLinks {
  return {
    upstream: rowsToLinks(upstream),
    downstream: rowsToLinks(downstream),
    downstreamTotal: Number(total?.n ?? 0),
  };
}

export function rowToThroughput(row: Row): ThroughputBucket {
  return { start: Number(row.start), succeeded: Number(row.succeeded), failed: Number(row.failed) };
}

/** Reads the columns `histogramColumns` named `${prefix}0…`, `${prefix}count` and `${prefix}sum`. */
function rowToHistogram(row: Row, prefix: string, boundsMs: number[]): HistogramCounts {
  return {
    boundsMs,
    counts: boundsMs.map((_, i) => Number(row[`${prefix}${i}`] ?? 0)),
    count: Number(row[`${prefix}count`] ?? 0),
    sumMs: Number(row[`${prefix}sum`] ?? 0),
  };
}

/**
 * The SELECT list of a cumulative histogram of `expression`; `atMost(bound)` is the
 * backend's aggregate counting rows at most `bound`. Bounds are numbers we own, never user
 * input, so they are written into the SQL.
 */
export function histogramColumns(
  expression: string,
  prefix: string,
  boundsMs: number[],
  atMost: (bound: number) => string,
): string {
  const buckets = boundsMs.map((bound, i) => `${atMost(Number(bound))} AS ${prefix}${i}`);
  return [
    ...buckets,
    `COUNT(${expression}) AS ${prefix}count`,
    `COALESCE(SUM(${expression}), 0) AS ${prefix}sum`,
  ].join(",\n");
}

/** The snapshot from its three reads: outcomes by queue, the histograms' row, oldest due by queue. */
export function rowsToMetrics(
  byQueue: Row[],
  histograms: { duration: Row; wait: Row },
  oldest: Row[],
  bounds: { durationBoundsMs: number[]; waitBoundsMs: number[] },
): MetricsSnapshot {
  return {
    attemptsByQueue: byQueue.map((row) => ({
      queue: String(row.queue),
      completed: Number(row.completed),
      failed: Number(row.failed),
      dead: Number(row.dead),
      retries: Number(row.retries),
    })),
    duration: rowToHistogram(histograms.duration, "d", bounds.durationBoundsMs),
    wait: rowToHistogram(histograms.wait, "w", bounds.waitBoundsMs),
    oldestDueByQueue: oldest.map((row) => ({ queue: String(row.queue), since: Number(row.since) })),
  };
}
