/**
 * The dashboard's job reads. The list: newest first, filtered by state, tag and an id
 * substring.
 *
 * The WHERE clause is built from the conditions actually given rather than the
 * `?1 IS NULL OR state = ?1` idiom: SQLite plans a statement before it sees the bound
 * values, so that idiom can never use `jobs_state (state, seq)` and a state filter would
 * walk all 100k rows. Values are still bound, never spliced in.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { likePattern, rowsToDependencyLinks } from "../dashboard-rows.ts";
import type { DependencyLinksParams, JobSearchParams } from "../params.ts";
import type { JobDependencyLinks } from "../records.ts";
import { anyOf, rowToJob } from "../rows.ts";
import { placeholders } from "./job-reads.ts";

type Row = Record<string, unknown>;

/** The statement and its values; exported so tests can EXPLAIN QUERY PLAN exactly what runs. */
export function searchJobsSql(params: JobSearchParams): { sql: string; values: (string | number)[] } {
  const conditions: string[] = [];
  const values: (string | number)[] = [];
  if (params.state !== undefined) {
    conditions.push("state = ?");
    values.push(params.state);
  }
  const tags = anyOf(params.tag);
  if (tags.length > 0) {
    conditions.push(`EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value IN (${placeholders(tags)}))`);
    values.push(...tags);
  }
  if (params.idContains !== undefined && params.idContains !== "") {
    // LIKE is case-insensitive for ASCII, which is what a search box should be.
    conditions.push("id LIKE ? ESCAPE '\\'");
    values.push(likePattern(params.idContains));
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  return {
    sql: `SELECT * FROM jobs ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`,
    values: [...values, params.limit, params.offset],
  };
}

export function searchJobs(db: Database, params: JobSearchParams): Job[] {
  const { sql, values } = searchJobsSql(params);
  return (db.query(sql).all(...values) as Row[]).map(rowToJob);
}

/** Exported so tests can EXPLAIN QUERY PLAN them: each direction must search an index of job_deps. */
export const DEPENDENCY_LINK_SQL = {
  upstream: `
    SELECT d.depends_on AS id, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on
    WHERE d.job_id = ?1 ORDER BY d.depends_on`,
  downstream: `
    SELECT d.job_id AS id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
    WHERE d.depends_on = ?1 ORDER BY j.seq LIMIT ?2`,
  downstreamTotal:
    "SELECT COUNT(*) AS n FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = ?1",
};

/** Upstream searches job_deps' primary key (job_id, depends_on), downstream job_deps_depends_on. */
export function dependencyLinks(db: Database, params: DependencyLinksParams): JobDependencyLinks {
  const upstream = db.query(DEPENDENCY_LINK_SQL.upstream).all(params.id) as Row[];
  const downstream = db.query(DEPENDENCY_LINK_SQL.downstream).all(params.id, params.limit) as Row[];
  const total = db.query(DEPENDENCY_LINK_SQL.downstreamTotal).get(params.id) as Row;
  return rowsToDependencyLinks(upstream, downstream, total);
}
