/**
 * Reading jobs on SQLite: one job, the plain list, the counts, a job's attempts, and
 * `list`'s page: newest first, a LIMIT, and how many jobs match in all.
 *
 * For the page, as in job-search.ts, the WHERE clause holds only the conditions given, so that SQLite
 * plans each shape with the index it can use: the page walks the primary key (seq)
 * backwards and stops after `limit` rows; a count by state is answered from `jobs_state
 * (state, seq)` without reading the rows themselves, and a count by queue reads the table once.
 */

import type { Database } from "bun:sqlite";
import type { Attempt, Job, StateCounts } from "../../core/job.ts";
import type { AttemptListParams, ById, JobListParams, JobPage, JobPageParams } from "../params.ts";
import { anyOf, rowsToStateCounts, rowToAttempt, rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

export function getJob(db: Database, params: ById): Job | null {
  const row = db.query("SELECT * FROM jobs WHERE id = ?").get(params.id) as Row | null;
  return row ? rowToJob(row) : null;
}

/** Insertion order; absent filters do not filter, and no limit means every row. */
export function listJobs(db: Database, params: JobListParams): Job[] {
  const rows = db
    .query(`
      SELECT * FROM jobs
      WHERE (?1 IS NULL OR state = ?1)
        AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?2))
        AND (?3 IS NULL OR queue = ?3)
      ORDER BY seq LIMIT ?4 OFFSET ?5`)
    .all(
      params.state ?? null,
      params.tag ?? null,
      params.queue ?? null,
      params.limit ?? -1,
      params.offset ?? 0,
    );
  return (rows as Row[]).map(rowToJob);
}

export function countJobs(db: Database): StateCounts {
  return rowsToStateCounts(db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as Row[]);
}

export function listAttempts(db: Database, params: AttemptListParams): Attempt[] {
  return (db.query("SELECT * FROM attempts WHERE job_id = ? ORDER BY token").all(params.jobId) as Row[]).map(
    rowToAttempt,
  );
}

/** The statements and their values; exported so tests can EXPLAIN QUERY PLAN what runs. */
export function jobPageSql(params: JobPageParams): {
  page: string;
  count: string;
  values: (string | number)[];
} {
  const conditions: string[] = [];
  const values: (string | number)[] = [];
  if (params.states !== undefined && params.states.length > 0) {
    conditions.push(`state IN (${placeholders(params.states)})`);
    values.push(...params.states);
  }
  const queues = anyOf(params.queue);
  if (queues.length > 0) {
    conditions.push(`queue IN (${placeholders(queues)})`);
    values.push(...queues);
  }
  const tags = anyOf(params.tag);
  if (tags.length > 0) {
    conditions.push(`EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value IN (${placeholders(tags)}))`);
    values.push(...tags);
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  return {
    page: `SELECT * FROM jobs ${where} ORDER BY seq ${params.order === "oldest" ? "ASC" : "DESC"} LIMIT ?`,
    count: `SELECT COUNT(*) AS n FROM jobs ${where}`,
    values,
  };
}

/** `?, ?, ?`: an IN list binding one value per item, never splicing one in. */
export function placeholders(values: unknown[]): string {
  return values.map(() => "?").join(", ");
}

export function jobPage(db: Database, params: JobPageParams): JobPage {
  const { page, count, values } = jobPageSql(params);
  const rows = db.query(page).all(...values, params.limit ?? -1) as Row[];
  const total = Number((db.query(count).get(...values) as Row).n);
  return { jobs: rows.map(rowToJob), total };
}
