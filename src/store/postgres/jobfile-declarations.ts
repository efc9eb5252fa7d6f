/** The jobfile side of the jobs table as the planner and the reconcile rules read it. */

import type { SQL } from "bun";
import type { CompletedRevisionOf, JobFacts } from "../../core/reconcile.ts";
import type { JobDeclarationsParams } from "../params.ts";
import type { DeclaredJob } from "../records.ts";
import { CANCELED_BY_REMOVAL_SQL } from "../removal-cancel.ts";
import { rowToCompletedRevision, rowToDeclaredJob, rowToJobFacts } from "../rows.ts";

type Row = Record<string, unknown>;

/** With `forUpdate`, the rows are locked in id order first, so two appliers cannot deadlock. */
export async function jobDeclarations(
  sql: SQL,
  params: JobDeclarationsParams,
  forUpdate = false,
): Promise<JobFacts[]> {
  const { ids } = params;
  const every = params.everyDeclared ?? false;
  if (ids.length === 0 && !every) return [];
  if (forUpdate) await sql`SELECT id FROM jobs WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
  const rows = (await sql`
    SELECT j.id, j.state, j.revision, j.spec, j.next_revision, j.source, j.declared, j.owner,
           (SELECT jsonb_agg(jsonb_build_object('revision', c.revision, 'at', c.completed_at))
            FROM completed_revisions c WHERE c.job_id = j.id) AS completed,
           (SELECT jsonb_agg(d.id) FROM jobs d
            WHERE d.canceled_by = j.id AND d.state = 'canceled') AS canceled_dependents,
           ${sql.unsafe(CANCELED_BY_REMOVAL_SQL)} AS canceled_by_removal
    FROM jobs j WHERE (${every}::boolean AND j.source IS NOT NULL) OR j.id = ANY(${ids}::text[])
    ORDER BY j.seq`) as Row[];
  return rows.map(rowToJobFacts);
}

export async function declaredJobs(sql: SQL): Promise<DeclaredJob[]> {
  const rows = (await sql`
    SELECT id, source, revision, state, declared, owner FROM jobs WHERE source IS NOT NULL ORDER BY seq`) as Row[];
  return rows.map(rowToDeclaredJob);
}

export async function completedRevisionList(
  sql: SQL,
  params: { ids: string[] },
): Promise<CompletedRevisionOf[]> {
  if (params.ids.length === 0) return [];
  const rows = (await sql`
    SELECT job_id, revision, completed_at FROM completed_revisions
    WHERE job_id = ANY(${params.ids}::text[]) ORDER BY job_id, revision`) as Row[];
  return rows.map(rowToCompletedRevision);
}
