/**
 * `list`'s page: newest first, a LIMIT, and how many jobs match in all.
 *
 * As in job-search.ts, the WHERE clause holds only the conditions given, so that SQLite
 * plans each shape with the index it can use: the page walks the primary key (seq)
 * backwards and stops after `limit` rows; the count is answered from `jobs_state (state,
 * seq)` or `jobs_queue_state (queue, state)` without reading the rows themselves.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { rowToJob } from "../rows.ts";
import type { JobPageParams } from "../store.ts";

type Row = Record<string, unknown>;

/** The statements and their values; exported so tests can EXPLAIN QUERY PLAN what runs. */
export function jobPageSql(params: JobPageParams): {
  page: string;
  count: string;
  values: (string | number)[];
} {
  const conditions: string[] = [];
  const values: (string | number)[] = [];
  if (params.states !== undefined && params.states.length > 0) {
    conditions.push(`state IN (${params.states.map(() => "?").join(", ")})`);
    values.push(...params.states);
  }
  if (params.queue !== undefined) {
    conditions.push("queue = ?");
    values.push(params.queue);
  }
  if (params.tag !== undefined) {
    conditions.push("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)");
    values.push(params.tag);
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  return {
    page: `SELECT * FROM jobs ${where} ORDER BY seq ${params.order === "oldest" ? "ASC" : "DESC"} LIMIT ?`,
    count: `SELECT COUNT(*) AS n FROM jobs ${where}`,
    values,
  };
}

export function jobPage(db: Database, params: JobPageParams): { jobs: Job[]; total: number } {
  const { page, count, values } = jobPageSql(params);
  const rows = db.query(page).all(...values, params.limit ?? -1) as Row[];
  const total = Number((db.query(count).get(...values) as Row).n);
  return { jobs: rows.map(rowToJob), total };
}
