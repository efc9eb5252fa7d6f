/**
 * Reading jobs on PostgreSQL, with the semantics of sqlite/job-reads.ts: one job, the plain
 * list, the counts, a job's attempts, and `list`'s page: newest first, a LIMIT, and how
 * many jobs match in all. The page's WHERE clause holds only the conditions given (values
 * bound, never spliced in), so the page walks the seq primary key backwards and the count
 * can use `jobs_state` or `jobs_queue_state` with an index-only scan.
 */

import type { SQL } from "bun";
import type { Attempt, Job, StateCounts } from "../../core/job.ts";
import type { AttemptListParams, ById, JobListParams, JobPage, JobPageParams } from "../params.ts";
import { anyOf, rowsToStateCounts, rowToAttempt, rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

export async function getJob(sql: SQL, params: ById): Promise<Job | null> {
  const [row] = await sql`SELECT * FROM jobs WHERE id = ${params.id}`;
  return row ? rowToJob(row) : null;
}

/** Insertion order; absent filters do not filter, and no limit means every row. */
export async function listJobs(sql: SQL, params: JobListParams): Promise<Job[]> {
  const state = params.state ?? null;
  const tag = params.tag ?? null;
  const queue = params.queue ?? null;
  const rows = await sql`
    SELECT * FROM jobs
    WHERE (${state}::text IS NULL OR state = ${state}::text)
      AND (${tag}::text IS NULL OR tags @> jsonb_build_array(${tag}::text))
      AND (${queue}::text IS NULL OR queue = ${queue}::text)
    ORDER BY seq LIMIT ${params.limit ?? null}::bigint OFFSET ${params.offset ?? 0}::bigint`;
  return (rows as Row[]).map(rowToJob);
}

export async function countJobs(sql: SQL): Promise<StateCounts> {
  return rowsToStateCounts((await sql`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`) as Row[]);
}

export async function listAttempts(sql: SQL, params: AttemptListParams): Promise<Attempt[]> {
  return ((await sql`SELECT * FROM attempts WHERE job_id = ${params.jobId} ORDER BY token`) as Row[]).map(
    rowToAttempt,
  );
}

/** The statements and their values, as sqlite/job-reads.ts exposes its own for query-plan tests. */
export function jobPageSql(params: JobPageParams): { page: string; count: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (params.states !== undefined && params.states.length > 0) {
    conditions.push(`state = ANY(${bind(params.states)}::text[])`);
  }
  const queues = anyOf(params.queue);
  if (queues.length > 0) conditions.push(`queue = ANY(${bind(queues)}::text[])`);
  const tags = anyOf(params.tag);
  if (tags.length > 0) conditions.push(`tags ?| ${bind(tags)}::text[]`);
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  return {
    // The limit is the last value: `count` binds the filter values alone.
    page: `SELECT * FROM jobs ${where} ORDER BY seq ${params.order === "oldest" ? "ASC" : "DESC"} LIMIT $${values.length + 1}::bigint`,
    count: `SELECT COUNT(*) AS n FROM jobs ${where}`,
    values,
  };
}

export async function jobPage(sql: SQL, params: JobPageParams): Promise<JobPage> {
  const { page, count, values } = jobPageSql(params);
  const rows = await sql.unsafe(page, [...values, params.limit]);
  const [total] = await sql.unsafe(count, values);
  return { jobs: (rows as Row[]).map(rowToJob), total: Number((total as Row).n) };
}
