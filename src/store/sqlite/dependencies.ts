/**
 * Dependency bookkeeping (`after`), run inside the caller's write transaction. A job with
 * an unfinished dependency is `blocked` and left out of the claim index; a dependency that
 * ends dead or canceled cancels its dependents, and retrying it re-arms them.
 */

import type { Database } from "bun:sqlite";
import { UserError } from "../../core/errors.ts";

/** Replaces the job's dependency rows and marks it blocked when any dependency is unfinished. */
export function setDependencies(
  db: Database,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): void {
  db.query("DELETE FROM job_deps WHERE job_id = ?").run(jobId);
  if (!after || after.length === 0) {
    db.query("UPDATE jobs SET blocked = 0 WHERE id = ? AND blocked = 1").run(jobId);
    return;
  }
  const exists = db.query("SELECT state FROM jobs WHERE id = ?");
  const insert = db.query("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)");
  let unfinished = 0;
  let ended: { id: string; state: string } | null = null;
  for (const dependency of after) {
    const row = exists.get(dependency) as { state: string } | null;
    if (!row) {
      throw new UserError(
        `job "${jobId}" waits for "${dependency}", which is not in the queue`,
        "enqueue that job first, in the same file, or fix the `after` list",
      );
    }
    insert.run(jobId, dependency);
    if (row.state !== "completed") unfinished++;
    if (row.state === "dead" || row.state === "canceled") ended ??= { id: dependency, state: row.state };
  }
  db.query("UPDATE jobs SET blocked = ?, updated_at = ? WHERE id = ?").run(
    unfinished > 0 ? 1 : 0,
    now,
    jobId,
  );
  // A dependency that already ended badly would leave this job waiting forever: it is
  // canceled at once, as if it had been waiting, so retrying the dependency re-arms it.
  if (ended) {
    db.query(`
      UPDATE jobs SET state = 'canceled', canceled_by = ?1, finished_at = ?2, updated_at = ?2,
                      last_error = 'dependency ' || ?1 || ' ended ' || ?3
      WHERE id = ?4 AND state IN ('pending', 'failed')`).run(ended.id, now, ended.state, jobId);
  }
}

/** A dependency completed: dependents whose every dependency is now complete become claimable. */
export function releaseDependents(db: Database, jobId: string, now: number): void {
  db.query(`
    UPDATE jobs SET blocked = 0, updated_at = ?1, next_run_at = MAX(next_run_at, ?1)
    WHERE blocked = 1
      AND id IN (SELECT job_id FROM job_deps WHERE depends_on = ?2)
      AND NOT EXISTS (
        SELECT 1 FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
        WHERE d.job_id = jobs.id AND dep.state <> 'completed')`).run(now, jobId);
}

/**
 * A dependency ended dead or canceled: every job downstream that has not started is
 * canceled, remembering the root cause so a retry of that job can re-arm them.
 */
export function cancelDependents(db: Database, rootId: string, rootState: string, now: number): void {
  db.query(`
    WITH RECURSIVE downstream(id) AS (
      SELECT job_id FROM job_deps WHERE depends_on = ?1
      UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id)
    UPDATE jobs SET state = 'canceled', canceled_by = ?1, finished_at = ?2, updated_at = ?2,
                    last_error = 'dependency ' || ?1 || ' ended ' || ?3
    WHERE id IN (SELECT id FROM downstream) AND state IN ('pending', 'failed')`).run(rootId, now, rootState);
}

/** The root cause is queued again: jobs it canceled wait for it once more. */
export function rearmDependents(db: Database, rootId: string, now: number): void {
  db.query(`
    UPDATE jobs SET state = 'pending', blocked = 1, canceled_by = NULL, finished_at = NULL, last_error = NULL,
                    attempts = 0, next_run_at = ?2, updated_at = ?2
    WHERE canceled_by = ?1`).run(rootId, now);
}
