/**
 * Dependency bookkeeping (`after`), run inside the caller's write transaction. A job with
 * an unfinished dependency is `blocked` and left out of the claim index; a dependency that
 * ends dead or canceled cancels its dependents, and queuing it again re-arms them. What a
 * dependent becomes is decided by `dependentState` (core/dependencies.ts); this file only
 * reads and writes.
 */

import type { Database } from "bun:sqlite";
import {
  type DependencyEdge,
  type DependencyStatus,
  type DependentState,
  dependencyEndedError,
  dependencyOrder,
  dependentState,
} from "../../core/dependencies.ts";
import { firstOnCycle } from "../../core/dependency-cycles.ts";
import type { JobState } from "../../core/job.ts";
import { lateCycleError, missingDependencyError } from "../errors.ts";
import { rowsToEdges, rowToDependencyStatus } from "../rows.ts";

type Row = Record<string, unknown>;

function dependencyStatuses(db: Database, jobId: string): DependencyStatus[] {
  const rows = db
    .query(`
      SELECT dep.id, dep.state, dep.canceled_by FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
      WHERE d.job_id = ?`)
    .all(jobId) as Row[];
  return rows.map(rowToDependencyStatus);
}

/**
 * Records the job's dependency rows and settles its state from them: blocked while any is
 * unfinished, canceled at once (with everything downstream) when one already ended dead or
 * canceled, since it would otherwise wait forever. A job that ends up queued is a job that
 * came back, so the jobs it had canceled wait for it again (see `rearmDependents`).
 * Called for every job just queued: inserted, replaced by its jobfile, rerun or retried.
 */
export function setDependencies(
  db: Database,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): void {
  db.query("DELETE FROM job_deps WHERE job_id = ?").run(jobId);
  const exists = db.query("SELECT 1 FROM jobs WHERE id = ?");
  const insert = db.query("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)");
  for (const dependency of after ?? []) {
    if (!exists.get(dependency)) throw missingDependencyError(jobId, dependency);
    insert.run(jobId, dependency);
  }
  const decision = dependentState(dependencyStatuses(db, jobId));
  if (decision.state === "canceled") {
    cancelJob(db, jobId, decision, now);
    return;
  }
  // A stale canceled_by would let a later retry of that old dependency reset this job.
  db.query(`
    UPDATE jobs SET blocked = ?1, canceled_by = NULL, updated_at = ?2
    WHERE id = ?3 AND state IN ('pending', 'failed')`).run(decision.blocked ? 1 : 0, now, jobId);
  rearmDependents(db, jobId, now);
}

/**
 * setDependencies for a job that comes back (a rerun, a retry from the DLQ, a jobfile's next
 * revision): a dependency purged since it was declared has run, so it counts as done.
 */
export function setDependenciesAgain(
  db: Database,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): void {
  const exists = db.query("SELECT 1 FROM jobs WHERE id = ?");
  setDependencies(
    db,
    jobId,
    (after ?? []).filter((dependency) => exists.get(dependency) !== null),
    now,
  );
}

function cancelJob(
  db: Database,
  jobId: string,
  decision: Extract<DependentState, { state: "canceled" }>,
  now: number,
): boolean {
  const changed = db
    .query(`
      UPDATE jobs SET state = 'canceled', canceled_by = ?1, finished_at = ?2, updated_at = ?2,
                      last_error = ?3
      WHERE id = ?4 AND state IN ('pending', 'failed')`)
    .run(decision.root, now, decision.reason, jobId).changes;
  if (changed > 0) cancelDownstream(db, jobId, decision.root, decision.reason, now);
  return changed > 0;
}

/**
 * An imported job that waits, canceled at once (with what waits on it) when a dependency in
 * the store already ended dead or canceled, by the rule setDependencies applies; its
 * dependency rows are already written. True when it was canceled.
 */
export function cancelIfDependencyEnded(db: Database, jobId: string, now: number): boolean {
  const decision = dependentState(dependencyStatuses(db, jobId));
  return decision.state === "canceled" && cancelJob(db, jobId, decision, now);
}

/**
 * Refuses to queue `jobId` again (a `rerun` or `dlq retry` of that one job) when one of its
 * dependencies ended: it would be canceled in the same instant. Throws before anything moved.
 */
export function refuseIfDependencyEnded(db: Database, jobId: string, from: readonly JobState[]): void {
  const job = db.query("SELECT state, canceled_by FROM jobs WHERE id = ?").get(jobId) as Row | null;
  // A job in another state is refused for that reason by the move itself.
  if (!job || !from.includes(job.state as JobState)) return;
  const decision = dependentState(dependencyStatuses(db, jobId));
  if (decision.state !== "canceled") return;
  const root = db.query("SELECT state FROM jobs WHERE id = ?").get(decision.root) as Row | null;
  throw dependencyEndedError(jobId, decision, {
    state: root ? (root.state as JobState) : null,
    canceledByRoot: job.canceled_by === decision.root,
  });
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
 * canceled, remembering the root cause so that queuing that job again re-arms them.
 */
/** Returns the ids it canceled. */
export function cancelDependents(db: Database, rootId: string, rootState: string, now: number): string[] {
  return cancelDownstream(db, rootId, rootId, `dependency ${rootId} ended ${rootState}`, now);
}

function cancelDownstream(db: Database, fromId: string, root: string, reason: string, now: number): string[] {
  const rows = db
    .query(`
      WITH RECURSIVE downstream(id) AS (
        SELECT job_id FROM job_deps WHERE depends_on = ?1
        UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id)
      UPDATE jobs SET state = 'canceled', canceled_by = ?2, finished_at = ?3, updated_at = ?3,
                      last_error = ?4
      -- +state: left alone, SQLite walked every pending job by jobs_state instead of looking
      -- up the few downstream by id, for each job of a kill or cancel of thousands.
      WHERE id IN (SELECT id FROM downstream) AND +state IN ('pending', 'failed')
      RETURNING id`)
    .all(fromId, root, now, reason) as Row[];
  return rows.map((row) => String(row.id));
}

/**
 * Refuses (throws) when one of `ids` now waits on itself: the edges followed are those of
 * jobs that wait (blocked) or that queuing a dependency again would re-arm (canceled), as
 * the plan's check follows them (jobfiles/plan-dependencies.ts). The store only gathers the
 * edges upstream of `ids`, each job once; firstOnCycle decides.
 */
export function refuseWaitingCycle(db: Database, ids: readonly string[]): void {
  if (ids.length === 0) return;
  const rows = db
    .query(`
      WITH RECURSIVE upstream(id) AS (
        SELECT value FROM json_each(?1)
        UNION SELECT d.depends_on FROM upstream JOIN job_deps d ON d.job_id = upstream.id
          JOIN jobs j ON j.id = d.job_id
          WHERE (j.blocked = 1 AND j.state IN ('pending', 'failed')) OR j.state = 'canceled')
      SELECT d.job_id, d.depends_on FROM upstream JOIN job_deps d ON d.job_id = upstream.id
        JOIN jobs j ON j.id = d.job_id
        WHERE (j.blocked = 1 AND j.state IN ('pending', 'failed')) OR j.state = 'canceled'`)
    .all(JSON.stringify(ids)) as Row[];
  const looping = firstOnCycle(ids, rowsToEdges(rows));
  if (looping !== null) throw lateCycleError(looping);
}

/**
 * Every `after` edge downstream of `ids` (through any number of links), with the waiting
 * job's state: what core/dependencies.ts's cascadeOf reads to tell a plan what canceling
 * them cancels too.
 */
export function dependentEdges(db: Database, ids: string[]): DependencyEdge[] {
  if (ids.length === 0) return [];
  const rows = db
    .query(`
      WITH RECURSIVE downstream(id) AS (
        SELECT value FROM json_each(?1)
        UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id)
      SELECT d.job_id, d.depends_on, jobs.state, jobs.blocked FROM job_deps d
      JOIN downstream ON d.depends_on = downstream.id JOIN jobs ON jobs.id = d.job_id
      ORDER BY d.job_id, d.depends_on`)
    .all(JSON.stringify(ids)) as Row[];
  return rows.map((row) => ({
    id: String(row.job_id),
    dependsOn: String(row.depends_on),
    state: row.state as JobState,
    blocked: Boolean(row.blocked),
  }));
}

/**
 * `rootId` is queued again (retried, rerun, or its jobfile declared again): the jobs that are
 * still canceled because of it are decided again from all of their dependencies. Running,
 * finished or otherwise canceled jobs are left alone. The jobfile apply calls this (through
 * `setDependencies`, or directly) when a removed declaration comes back.
 */
export function rearmDependents(db: Database, rootId: string, now: number): void {
  const members = (
    db.query("SELECT id FROM jobs WHERE state = 'canceled' AND canceled_by = ?").all(rootId) as Row[]
  ).map((row) => String(row.id));
  if (members.length === 0) return;
  const edges = rowsToEdges(
    db
      .query("SELECT job_id, depends_on FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?))")
      .all(JSON.stringify(members)) as Row[],
  );
  const rearm = db.query(`
    UPDATE jobs SET state = 'pending', blocked = ?1, canceled_by = NULL, finished_at = NULL, last_error = NULL,
                    attempts = 0, next_run_at = ?2, updated_at = ?2
    WHERE id = ?3 AND state = 'canceled' AND canceled_by = ?4`);
  const renameCause = db.query(`
    UPDATE jobs SET canceled_by = ?1, last_error = ?2, updated_at = ?3
    WHERE id = ?4 AND state = 'canceled' AND canceled_by = ?5`);
  for (const id of dependencyOrder(members, edges)) {
    const decision = dependentState(dependencyStatuses(db, id));
    if (decision.state === "canceled") {
      renameCause.run(decision.root, decision.reason, now, id, rootId);
    } else {
      rearm.run(decision.blocked ? 1 : 0, now, id, rootId);
    }
  }
}
