/**
 * The manual state moves on PostgreSQL (`cancel`, `rerun`, `dlq retry`), with the semantics
 * of sqlite/transition.ts, inside the caller's transaction.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import type { JobTransitionParams } from "../params.ts";
import { rowToJob } from "../rows.ts";
import { pgText } from "./connection.ts";
import {
  cancelDependents,
  lockDependenciesExclusive,
  refuseIfDependencyEnded,
  setDependenciesAgain,
} from "./dependencies.ts";

type Row = Record<string, unknown>;

/**
 * Moves jobs in `from` to `to` and, as SQLite does, cancels their dependents (to canceled)
 * or re-arms the jobs they canceled (to pending).
 */
export async function transitionJobs(tx: SQL, schema: string, params: JobTransitionParams): Promise<Job[]> {
  const id = params.id ?? null;
  const reason = pgText(params.reason ?? null);
  await lockDependenciesExclusive(tx, schema);
  // One job queued by hand must be able to run; a bulk move lets the dependency decide instead.
  if (params.to === "pending" && params.id !== undefined)
    await refuseIfDependencyEnded(tx, params.id, params.from);
  // RETURNING has no order in PostgreSQL; SQLite returns rowid order, so sort to match.
  const rows = await tx`
    WITH moved AS (
      UPDATE jobs SET state = ${params.to}, updated_at = ${params.now}::bigint,
                      attempts = CASE WHEN ${params.resetAttempts}::boolean THEN 0 ELSE attempts END,
                      next_run_at = CASE WHEN ${params.to}::text = 'pending' THEN ${params.now}::bigint
                                         ELSE next_run_at END,
                      finished_at = CASE WHEN ${params.to}::text = 'canceled' THEN ${params.now}::bigint END,
                      last_error = CASE WHEN ${params.to}::text = 'pending' THEN NULL
                                        ELSE COALESCE(${reason}::text, last_error) END,
                      exit_code = CASE WHEN ${params.to}::text = 'pending' THEN NULL ELSE exit_code END,
                      -- Moved by hand, never because of a dependency (see sqlite/transition.ts).
                      canceled_by = NULL
      WHERE (${id}::text IS NULL OR id = ${id}::text) AND state = ANY(${[...params.from]}::text[])
      RETURNING *)
    SELECT * FROM moved ORDER BY seq`;
  const moved = (rows as Row[]).map(rowToJob);
  for (const job of moved) {
    if (params.to === "canceled") {
      await cancelDependents(tx, job.id, "canceled", params.now);
    } else {
      await setDependenciesAgain(tx, job.id, job.spec.after, params.now);
    }
  }
  return moved;
}
