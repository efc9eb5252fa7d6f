/**
 * The manual state moves on SQLite (`cancel`, `rerun`, `dlq retry`), inside the caller's
 * IMMEDIATE transaction, with what they do to dependents.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import type { JobTransitionParams } from "../params.ts";
import { rowToJob } from "../rows.ts";
import { cancelDependents, refuseIfDependencyEnded, setDependenciesAgain } from "./dependencies.ts";

type Row = Record<string, unknown>;

export function transitionJobs(db: Database, params: JobTransitionParams): Job[] {
  // One job queued by hand must be able to run; a bulk move lets the dependency decide instead.
  if (params.to === "pending" && params.id !== undefined) refuseIfDependencyEnded(db, params.id, params.from);
  // One job is found by its id: an `?4 IS NULL OR id = ?4` made SQLite walk every job in
  // the states moved from, for each id of a `kill` of thousands.
  const rows = db
    .query(`
        UPDATE jobs SET state = ?1, updated_at = ?2,
                        attempts = CASE WHEN ?3 THEN 0 ELSE attempts END,
                        next_run_at = CASE WHEN ?1 = 'pending' THEN ?2 ELSE next_run_at END,
                        finished_at = CASE WHEN ?1 = 'canceled' THEN ?2 ELSE NULL END,
                        -- A job queued again starts clean; its history stays in the attempts table.
                        last_error = CASE WHEN ?1 = 'pending' THEN NULL ELSE COALESCE(?6, last_error) END,
                        exit_code = CASE WHEN ?1 = 'pending' THEN NULL ELSE exit_code END,
                        -- Moved by hand, never because of a dependency: a stale cause would let
                        -- a later retry of that dependency reset this job.
                        canceled_by = NULL
        WHERE ${params.id === undefined ? "" : "id = ?4 AND "}state IN (SELECT value FROM json_each(?5))
        RETURNING *`)
    .all(
      params.to,
      params.now,
      params.resetAttempts ? 1 : 0,
      params.id ?? null,
      JSON.stringify(params.from),
      params.reason ?? null,
    );
  const moved = (rows as Row[]).map(rowToJob);
  for (const job of moved) {
    if (params.to === "canceled") {
      cancelDependents(db, job.id, "canceled", params.now);
    } else {
      setDependenciesAgain(db, job.id, job.spec.after, params.now);
    }
  }
  return moved;
}
