/**
 * The dashboard's job reads on PostgreSQL, with the semantics of sqlite/job-search.ts: the
 * list filtered by state, tag and an id substring, and a job's dependency links. Where the
 * SQL differs: ILIKE for the case-insensitive id search and jsonb's `?|` (any of) for tags.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { likePattern, rowsToDependencyLinks } from "../dashboard-rows.ts";
import type { DependencyLinksParams, JobSearchParams } from "../params.ts";
import type { JobDependencyLinks } from "../records.ts";
import { anyOf, rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/**
 * The WHERE clause holds only the conditions given, so each shape gets a plan that uses
 * `jobs_state (state, seq)` when it can; values are still bound, never spliced in.
 */
export function searchJobsSql(params: JobSearchParams): { sql: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (params.state !== undefined) conditions.push(`state = ${bind(params.state)}::text`);
  const tags = anyOf(params.tag);
  if (tags.length > 0) conditions.push(`tags ?| ${bind(tags)}::text[]`);
  if (params.idContains !== undefined && params.idContains !== "") {
    conditions.push(`id ILIKE ${bind(likePattern(params.idContains))} ESCAPE '\\'`);
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  return {
    sql: `SELECT * FROM jobs ${where} ORDER BY seq DESC LIMIT ${bind(params.limit)}::bigint OFFSET ${bind(params.offset)}::bigint`,
    values,
  };
}

export async function searchJobs(sql: SQL, params: JobSearchParams): Promise<Job[]> {
  const statement = searchJobsSql(params);
  return ((await sql.unsafe(statement.sql, statement.values)) as Row[]).map(rowToJob);
}

export async function dependencyLinks(sql: SQL, params: DependencyLinksParams): Promise<JobDependencyLinks> {
  const { id, limit } = params;
  // COLLATE "C": SQLite's byte order, whatever the database's locale.
  const upstream = (await sql`
    SELECT d.depends_on AS id, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on
    WHERE d.job_id = ${id} ORDER BY d.depends_on COLLATE "C"`) as Row[];
  const downstream = (await sql`
    SELECT d.job_id AS id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
    WHERE d.depends_on = ${id} ORDER BY j.seq LIMIT ${limit}::bigint`) as Row[];
  const [total] = (await sql`
    SELECT COUNT(*) AS n FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = ${id}`) as Row[];
  return rowsToDependencyLinks(upstream, downstream, total);
}
