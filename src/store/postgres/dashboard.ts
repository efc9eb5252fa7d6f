/**
 * The dashboard's reads on PostgreSQL: job search, throughput and `/metrics` aggregates,
 * with the semantics of sqlite/job-search.ts and sqlite/metrics.ts.
 *
 * Where the SQL differs: ILIKE for the case-insensitive id search, `COUNT(*) FILTER`
 * where SQLite sums booleans, GREATEST where SQLite uses the two-argument MAX, and jsonb
 * operators for the spec's delay and run_at.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { rowToJob } from "../rows.ts";
import type { HistogramCounts, JobSearchParams, MetricsSnapshot, ThroughputBucket } from "../store.ts";

type Row = Record<string, unknown>;

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/**
 * The WHERE clause holds only the conditions given, so each shape gets a plan that uses
 * `jobs_state (state, seq)` when it can; values are still bound, never spliced in.
 */
export async function searchJobs(sql: SQL, params: JobSearchParams): Promise<Job[]> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (params.state !== undefined) conditions.push(`state = ${bind(params.state)}::text`);
  if (params.tag !== undefined) conditions.push(`tags @> jsonb_build_array(${bind(params.tag)}::text)`);
  if (params.idContains !== undefined && params.idContains !== "") {
    conditions.push(`id ILIKE ${bind(likePattern(params.idContains))} ESCAPE '\\'`);
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  const rows = await sql.unsafe(
    `SELECT * FROM jobs ${where} ORDER BY seq DESC LIMIT ${bind(params.limit)}::bigint OFFSET ${bind(params.offset)}::bigint`,
    values,
  );
  return (rows as Row[]).map(rowToJob);
}

/** A finished attempt succeeded when it exited 0 with no error (see sqlite/metrics.ts). */
const SUCCEEDED = "COALESCE(a.exit_code = 0 AND a.error IS NULL, FALSE)";

export async function attemptThroughput(
  sql: SQL,
  since: number,
  bucketMs: number,
): Promise<ThroughputBucket[]> {
  const bucket = Math.max(1, Math.floor(bucketMs));
  const rows = await sql.unsafe(
    `SELECT (a.finished_at / $1::bigint) * $1::bigint AS start,
            COUNT(*) FILTER (WHERE ${SUCCEEDED}) AS succeeded,
            COUNT(*) FILTER (WHERE NOT ${SUCCEEDED}) AS failed
     FROM attempts a
     WHERE a.finished_at >= $2::bigint
     GROUP BY 1 ORDER BY 1`,
    [bucket, since],
  );
  return (rows as Row[]).map((row) => ({
    start: Number(row.start),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
  }));
}

function histogram(row: Row, prefix: string, boundsMs: number[]): HistogramCounts {
  return {
    boundsMs,
    counts: boundsMs.map((_, i) => Number(row[`${prefix}${i}`] ?? 0)),
    count: Number(row[`${prefix}count`] ?? 0),
    sumMs: Number(row[`${prefix}sum`] ?? 0),
  };
}

/** Bounds are numbers we own, never user input, so they are written into the SQL. */
function bucketColumns(expression: string, prefix: string, boundsMs: number[]): string {
  const buckets = boundsMs.map(
    (bound, i) => `COUNT(*) FILTER (WHERE ${expression} <= ${Number(bound)}) AS ${prefix}${i}`,
  );
  return [
    ...buckets,
    `COUNT(${expression}) AS ${prefix}count`,
    `COALESCE(SUM(${expression}), 0) AS ${prefix}sum`,
  ].join(",\n");
}

export async function metricsSnapshot(
  sql: SQL,
  now: number,
  durationBoundsMs: number[],
  waitBoundsMs: number[],
): Promise<MetricsSnapshot> {
  // The wait counts a job's first-ever claim (token 1) only, measured from when it became
  // due; see sqlite/metrics.ts for why.
  const [row] = (await sql.unsafe(`
    WITH base AS (
      SELECT a.attempt,
             ${SUCCEEDED} AS ok,
             a.finished_at IS NOT NULL AS finished,
             CASE WHEN a.finished_at IS NOT NULL THEN GREATEST(0, a.finished_at - a.started_at) END AS duration,
             CASE WHEN a.token = 1 THEN GREATEST(0, a.started_at - GREATEST(j.created_at, COALESCE(
               j.created_at + (j.spec->>'delay')::numeric,
               FLOOR(EXTRACT(EPOCH FROM (j.spec->>'run_at')::timestamptz) * 1000),
               j.created_at))) END AS wait,
             a.attempt > j.max_retries AS last_try
      FROM attempts a JOIN jobs j ON j.id = a.job_id)
    SELECT COUNT(*) FILTER (WHERE finished AND ok) AS completed,
           COUNT(*) FILTER (WHERE finished AND NOT ok AND NOT last_try) AS failed,
           COUNT(*) FILTER (WHERE finished AND NOT ok AND last_try) AS dead,
           COUNT(*) FILTER (WHERE attempt > 1) AS retries,
           ${bucketColumns("duration", "d", durationBoundsMs)},
           ${bucketColumns("wait", "w", waitBoundsMs)}
    FROM base`)) as Row[];
  const [oldest] = (await sql`
    SELECT MIN(next_run_at) AS since FROM jobs WHERE state = 'pending' AND blocked = 0 AND next_run_at <= ${now}::bigint`) as Row[];
  return {
    completed: Number(row?.completed ?? 0),
    failed: Number(row?.failed ?? 0),
    dead: Number(row?.dead ?? 0),
    retries: Number(row?.retries ?? 0),
    duration: histogram(row ?? {}, "d", durationBoundsMs),
    wait: histogram(row ?? {}, "w", waitBoundsMs),
    oldestPendingSince: oldest?.since === null || oldest?.since === undefined ? null : Number(oldest.since),
  };
}
