/** The jobfile side of the jobs table as the planner and the reconcile rules read it. */

import type { Database } from "bun:sqlite";
import type { CompletedRevisionOf, JobFacts } from "../../core/reconcile.ts";
import type { JobDeclarationsParams } from "../params.ts";
import type { DeclaredJob } from "../records.ts";
import { CANCELED_BY_REMOVAL_SQL } from "../removal-cancel.ts";
import { rowToCompletedRevision, rowToDeclaredJob, rowToJobFacts } from "../rows.ts";

type Row = Record<string, unknown>;

export function jobDeclarations(db: Database, params: JobDeclarationsParams): JobFacts[] {
  if (params.ids.length === 0 && !params.everyDeclared) return [];
  const which = params.everyDeclared
    ? "j.source IS NOT NULL OR j.id IN (SELECT value FROM json_each(?)) ORDER BY j.seq"
    : "j.id IN (SELECT value FROM json_each(?))";
  // One statement for any number of ids: json_each avoids SQLite's bound-parameter limit.
  const rows = db
    .query(`
      SELECT j.id, j.state, j.revision, j.spec, j.next_revision, j.source, j.declared, j.owner,
             (SELECT json_group_array(json_object('revision', c.revision, 'at', c.completed_at))
              FROM completed_revisions c WHERE c.job_id = j.id) AS completed,
             (SELECT json_group_array(d.id) FROM jobs d
              WHERE d.canceled_by = j.id AND d.state = 'canceled') AS canceled_dependents,
             ${CANCELED_BY_REMOVAL_SQL} AS canceled_by_removal
      FROM jobs j WHERE ${which}`)
    .all(JSON.stringify(params.ids)) as Row[];
  return rows.map(rowToJobFacts);
}

export function declaredJobs(db: Database): DeclaredJob[] {
  return (
    db
      .query(
        "SELECT id, source, revision, state, declared, owner FROM jobs WHERE source IS NOT NULL ORDER BY seq",
      )
      .all() as Row[]
  ).map(rowToDeclaredJob);
}

export function completedRevisionList(db: Database, params: { ids: string[] }): CompletedRevisionOf[] {
  if (params.ids.length === 0) return [];
  return (
    db
      .query(`
        SELECT job_id, revision, completed_at FROM completed_revisions
        WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, revision`)
      .all(JSON.stringify(params.ids)) as Row[]
  ).map(rowToCompletedRevision);
}
