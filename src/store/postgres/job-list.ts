/**
 * `list`'s page on PostgreSQL, with the semantics of sqlite/job-list.ts: newest first, a
 * LIMIT, and how many jobs match in all. The WHERE clause holds only the conditions given
 * (values bound, never spliced in), so the page walks the seq primary key backwards and the
 * count can use `jobs_state` or `jobs_queue_state` with an index-only scan.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { rowToJob } from "../rows.ts";
import type { JobPageParams } from "../store.ts";

type Row = Record<string, unknown>;

export async function jobPage(sql: SQL, params: JobPageParams): Promise<{ jobs: Job[]; total: number }> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (params.states !== undefined && params.states.length > 0) {
    conditions.push(`state = ANY(${bind(params.states)}::text[])`);
  }
  if (params.queue !== undefined) conditions.push(`queue = ${bind(params.queue)}::text`);
  if (params.tag !== undefined) conditions.push(`tags @> jsonb_build_array(${bind(params.tag)}::text)`);
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  const filterValues = [...values];
  const rows = await sql.unsafe(
    `SELECT * FROM jobs ${where} ORDER BY seq ${params.order === "oldest" ? "ASC" : "DESC"} LIMIT ${bind(params.limit)}::bigint`,
    values,
  );
  const [count] = await sql.unsafe(`SELECT COUNT(*) AS n FROM jobs ${where}`, filterValues);
  return { jobs: (rows as Row[]).map(rowToJob), total: Number((count as Row).n) };
}
