/**
 * The dashboard's reads on PostgreSQL: job search, dependency links, throughput and
 * `/metrics` aggregates, with the semantics of sqlite/job-search.ts and sqlite/metrics.ts.
 *
 * Where the SQL differs: ILIKE for the case-insensitive id search, `COUNT(*) FILTER`
 * where SQLite sums booleans, GREATEST where SQLite uses the two-argument MAX, and jsonb
 * operators for the spec's delay and run_at.
 */

import type { SQL } from "bun";
import type { Job, JobState } from "../../core/job.ts";
import { rowToJob } from "../rows.ts";
import type {
  HistogramCounts,
  JobDependencyLinks,
  JobLink,
  JobSearchParams,
  MetricsSnapshot,
  ThroughputBucket,
} from "../store.ts";

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

function links(rows: Row[]): JobLink[] {
  return rows.map((row) => ({ id: String(row.id), state: (row.state ?? null) as JobState | null }));
}

export async function dependencyLinks(sql: SQL, id: string, limit: number): Promise<JobDependencyLinks> {
  // COLLATE "C": SQLite's byte order, whatever the database's locale.
  const upstream = (await sql`
    SELECT d.depends_on AS id, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on
    WHERE d.job_id = ${id} ORDER BY d.depends_on COLLATE "C"`) as Row[];
  const downstream = (await sql`
    SELECT d.job_id AS id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
    WHERE d.depends_on = ${id} ORDER BY j.seq LIMIT ${limit}::bigint`) as Row[];
  const [total] = (await sql`
    SELECT COUNT(*) AS n FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = ${id}`) as Row[];
  return { upstream: links(upstream), downstream: links(downstream), downstreamTotal: Number(total?.n ?? 0) };
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
  const base = `
    WITH base AS (
      SELECT a.attempt, j.queue,
             ${SUCCEEDED} AS ok,
             a.finished_at IS NOT NULL AS finished,
             CASE WHEN a.finished_at IS NOT NULL THEN GREATEST(0, a.finished_at - a.started_at) END AS duration,
             CASE WHEN a.token = 1 THEN GREATEST(0, a.started_at - GREATEST(j.created_at, COALESCE(
               j.created_at + (j.spec->>'delay')::numeric,
               FLOOR(EXTRACT(EPOCH FROM (j.spec->>'run_at')::timestamptz) * 1000),
               j.created_at))) END AS wait,
             a.attempt > j.max_retries AS last_try
      FROM attempts a JOIN jobs j ON j.id = a.job_id)`;
  const byQueue = (await sql.unsafe(`${base}
    SELECT queue,
           COUNT(*) FILTER (WHERE finished AND ok) AS completed,
           COUNT(*) FILTER (WHERE finished AND NOT ok AND NOT last_try) AS failed,
           COUNT(*) FILTER (WHERE finished AND NOT ok AND last_try) AS dead,
           COUNT(*) FILTER (WHERE attempt > 1) AS retries
    FROM base GROUP BY queue ORDER BY queue`)) as Row[];
  const [row] = (await sql.unsafe(`${base}
    SELECT ${bucketColumns("duration", "d", durationBoundsMs)},
           ${bucketColumns("wait", "w", waitBoundsMs)}
    FROM base`)) as Row[];
  // Waiting starts at the later of enqueue and next_run_at; see sqlite/metrics.ts.
  const oldest = (await sql`
    SELECT queue, MIN(GREATEST(created_at, next_run_at)) AS since FROM jobs
    WHERE state = 'pending' AND NOT blocked AND next_run_at <= ${now}::bigint
    GROUP BY queue ORDER BY queue`) as Row[];
  return {
    attemptsByQueue: byQueue.map((entry) => ({
      queue: String(entry.queue),
      completed: Number(entry.completed),
      failed: Number(entry.failed),
      dead: Number(entry.dead),
      retries: Number(entry.retries),
    })),
    duration: histogram(row ?? {}, "d", durationBoundsMs),
    wait: histogram(row ?? {}, "w", waitBoundsMs),
    oldestDueByQueue: oldest.map((entry) => ({ queue: String(entry.queue), since: Number(entry.since) })),
  };
}
