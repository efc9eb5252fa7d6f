/**
 * Aggregates over the attempts table on PostgreSQL, for the dashboard's chart and for
 * `/metrics`, with the semantics of sqlite/metrics.ts. Where the SQL differs: `COUNT(*)
 * FILTER` where SQLite sums booleans, GREATEST where SQLite uses the two-argument MAX, and
 * jsonb operators for the spec's delay and run_at.
 */

import type { SQL } from "bun";
import { histogramColumns, rowsToMetrics, rowToThroughput } from "../dashboard-rows.ts";
import { OUTCOME_FACTS_SQL, outcomeRows, SUCCEEDED_SQL } from "../metrics-facts.ts";
import type { MetricsParams, ThroughputParams } from "../params.ts";
import type { MetricsSnapshot, ThroughputBucket } from "../records.ts";

type Row = Record<string, unknown>;

/** See sqlite/metrics.ts. */
const SUCCEEDED = SUCCEEDED_SQL;

export async function attemptThroughput(sql: SQL, params: ThroughputParams): Promise<ThroughputBucket[]> {
  const bucket = Math.max(1, Math.floor(params.bucketMs));
  const rows = await sql.unsafe(
    `SELECT (a.finished_at / $1::bigint) * $1::bigint AS start,
            COUNT(*) FILTER (WHERE ${SUCCEEDED}) AS succeeded,
            COUNT(*) FILTER (WHERE NOT ${SUCCEEDED}) AS failed
     FROM attempts a
     WHERE a.finished_at >= $2::bigint
     GROUP BY 1 ORDER BY 1`,
    [bucket, params.since],
  );
  return (rows as Row[]).map(rowToThroughput);
}

function bucketColumns(expression: string, prefix: string, boundsMs: number[]): string {
  return histogramColumns(
    expression,
    prefix,
    boundsMs,
    (bound) => `COUNT(*) FILTER (WHERE ${expression} <= ${bound})`,
  );
}

export async function metricsSnapshot(sql: SQL, params: MetricsParams): Promise<MetricsSnapshot> {
  // The wait counts a job's first attempt (its lowest token) only, measured from when it became
  // due; see sqlite/metrics.ts for why.
  const base = `
    WITH base AS (
      SELECT CASE WHEN a.finished_at IS NOT NULL THEN GREATEST(0, a.finished_at - a.started_at) END AS duration,
             CASE WHEN a.token = (SELECT MIN(first.token) FROM attempts first WHERE first.job_id = a.job_id)
                  THEN GREATEST(0, a.started_at - GREATEST(j.created_at, COALESCE(
               j.created_at + (j.spec->>'delay')::numeric,
               FLOOR(EXTRACT(EPOCH FROM (j.spec->>'run_at')::timestamptz) * 1000),
               j.created_at))) END AS wait
      FROM attempts a JOIN jobs j ON j.id = a.job_id)`;
  // The outcome counters follow core/attempt-outcome.ts, as on SQLite.
  const byQueue = outcomeRows((await sql.unsafe(OUTCOME_FACTS_SQL)) as Row[]);
  const [row] = (await sql.unsafe(`${base}
    SELECT ${bucketColumns("duration", "d", params.durationBoundsMs)},
           ${bucketColumns("wait", "w", params.waitBoundsMs)}
    FROM base`)) as Row[];
  // Waiting starts at the later of enqueue and next_run_at; see sqlite/metrics.ts.
  const oldest = (await sql`
    SELECT queue, MIN(GREATEST(created_at, next_run_at)) AS since FROM jobs
    WHERE state = 'pending' AND NOT blocked AND next_run_at <= ${params.now}::bigint
    GROUP BY queue ORDER BY queue`) as Row[];
  return rowsToMetrics(byQueue, { duration: row ?? {}, wait: row ?? {} }, oldest, params);
}
