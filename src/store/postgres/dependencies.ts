/**
 * Dependency bookkeeping (`after`) on PostgreSQL, with the semantics of sqlite/dependencies.ts.
 *
 * SQLite's single writer makes every check-then-write here safe. PostgreSQL runs writers
 * side by side, and two races would leave a job blocked forever: a dependent added while
 * its dependency completes, and two dependencies of one job completing at once (each sees
 * the other still running). An advisory lock per schema closes both:
 * - writers that record dependencies or move jobs between states (`lockDependenciesExclusive`)
 *   hold it exclusively, taken before any row lock so it can never be part of a deadlock;
 * - completions and failures (`lockDependenciesShared`) hold it shared, so they still run
 *   side by side, and lock the dependent rows in id order before re-reading them, so the
 *   second of two completions sees the first one's commit.
 */

import type { SQL } from "bun";
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

function lockKey(schema: string): string {
  return `queuectl.dependencies.${schema}`;
}

export async function lockDependenciesExclusive(tx: SQL, schema: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey(schema)}))`;
}

export async function lockDependenciesShared(tx: SQL, schema: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock_shared(hashtext(${lockKey(schema)}))`;
}

async function dependencyStatuses(tx: SQL, jobId: string): Promise<DependencyStatus[]> {
  const rows = (await tx`
    SELECT dep.id, dep.state, dep.canceled_by FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
    WHERE d.job_id = ${jobId}`) as Row[];
  return rows.map(rowToDependencyStatus);
}

/**
 * Records the job's dependency rows and settles its state from them, as
 * sqlite/dependencies.ts does: blocked while any is unfinished, canceled at once (with
 * everything downstream) when one already ended, and the jobs it had canceled re-armed.
 */
/**
 * setDependencies for a job that comes back (a rerun, a retry from the DLQ, a jobfile's next
 * revision): a dependency purged since it was declared has run, so it counts as done.
 */
export async function setDependenciesAgain(
  tx: SQL,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): Promise<void> {
  const named = [...(after ?? [])];
  const existing =
    named.length === 0
      ? []
      : ((await tx`SELECT id FROM jobs WHERE id = ANY(${named}::text[])`) as { id: string }[]);
  const found = new Set(existing.map((row) => String(row.id)));
  await setDependencies(
    tx,
    jobId,
    named.filter((dependency) => found.has(dependency)),
    now,
  );
}

export async function setDependencies(
  tx: SQL,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): Promise<void> {
  await tx`DELETE FROM job_deps WHERE job_id = ${jobId}`;
  const list = [...(after ?? [])];
  if (list.length > 0) {
    const rows = (await tx`SELECT id FROM jobs WHERE id = ANY(${list}::text[])`) as Row[];
    const found = new Set(rows.map((row) => String(row.id)));
    const missing = list.find((dependency) => !found.has(dependency));
    if (missing !== undefined) throw missingDependencyError(jobId, missing);
    await tx`
      INSERT INTO job_deps (job_id, depends_on)
      SELECT ${jobId}, depends_on FROM unnest(${list}::text[]) AS u(depends_on)
      ON CONFLICT DO NOTHING`;
  }
  const decision = dependentState(await dependencyStatuses(tx, jobId));
  if (decision.state === "canceled") {
    await cancelJob(tx, jobId, decision, now);
    return;
  }
  // A stale canceled_by would let a later retry of that old dependency reset this job.
  await tx`
    UPDATE jobs SET blocked = ${decision.blocked}::boolean, canceled_by = NULL, updated_at = ${now}::bigint
    WHERE id = ${jobId} AND state IN ('pending', 'failed')`;
  await rearmDependents(tx, jobId, now);
}

async function cancelJob(
  tx: SQL,
  jobId: string,
  decision: Extract<DependentState, { state: "canceled" }>,
  now: number,
): Promise<boolean> {
  const changed = await tx`
    UPDATE jobs SET state = 'canceled', canceled_by = ${decision.root}, finished_at = ${now}::bigint,
                    updated_at = ${now}::bigint, last_error = ${decision.reason}
    WHERE id = ${jobId} AND state IN ('pending', 'failed')
    RETURNING id`;
  if (changed.length > 0) await cancelDownstream(tx, jobId, decision.root, decision.reason, now);
  return changed.length > 0;
}

/** See sqlite/dependencies.ts: an imported job that waits on a dependency already ended. */
export async function cancelIfDependencyEnded(tx: SQL, jobId: string, now: number): Promise<boolean> {
  const decision = dependentState(await dependencyStatuses(tx, jobId));
  return decision.state === "canceled" && (await cancelJob(tx, jobId, decision, now));
}

/** See sqlite/dependencies.ts: a single job queued by hand must be able to run. */
export async function refuseIfDependencyEnded(
  tx: SQL,
  jobId: string,
  from: readonly JobState[],
): Promise<void> {
  const [job] = (await tx`SELECT state, canceled_by FROM jobs WHERE id = ${jobId}`) as Row[];
  if (!job || !from.includes(job.state as JobState)) return;
  const decision = dependentState(await dependencyStatuses(tx, jobId));
  if (decision.state !== "canceled") return;
  const [root] = (await tx`SELECT state FROM jobs WHERE id = ${decision.root}`) as Row[];
  throw dependencyEndedError(jobId, decision, {
    state: root ? (root.state as JobState) : null,
    canceledByRoot: job.canceled_by === decision.root,
  });
}

/** A dependency completed: dependents whose every dependency is now complete become claimable. */
export async function releaseDependents(tx: SQL, jobId: string, now: number): Promise<void> {
  const waiting = await tx`
    SELECT id FROM jobs
    WHERE blocked AND id IN (SELECT job_id FROM job_deps WHERE depends_on = ${jobId})
    ORDER BY id FOR UPDATE`;
  if (waiting.length === 0) return;
  // A new statement after the locks: it sees every dependency that completed meanwhile.
  await tx`
    UPDATE jobs SET blocked = FALSE, updated_at = ${now}::bigint, next_run_at = GREATEST(next_run_at, ${now}::bigint)
    WHERE id = ANY(${waiting.map((row: { id: string }) => row.id)}::text[]) AND blocked
      AND NOT EXISTS (
        SELECT 1 FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
        WHERE d.job_id = jobs.id AND dep.state <> 'completed')`;
}

/**
 * A dependency ended dead or canceled: every job downstream that has not started is
 * canceled, remembering the root cause so that queuing that job again re-arms them.
 */
/** Returns the ids it canceled. */
export async function cancelDependents(
  tx: SQL,
  rootId: string,
  rootState: string,
  now: number,
): Promise<string[]> {
  return cancelDownstream(tx, rootId, rootId, `dependency ${rootId} ended ${rootState}`, now);
}

async function cancelDownstream(
  tx: SQL,
  fromId: string,
  root: string,
  reason: string,
  now: number,
): Promise<string[]> {
  const rows = (await tx`
    WITH RECURSIVE downstream(id) AS (
      SELECT job_id FROM job_deps WHERE depends_on = ${fromId}
      UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id),
    locked AS (
      SELECT jobs.id FROM jobs JOIN downstream ON downstream.id = jobs.id
      WHERE jobs.state IN ('pending', 'failed') ORDER BY jobs.id FOR UPDATE OF jobs)
    UPDATE jobs SET state = 'canceled', canceled_by = ${root}, finished_at = ${now}::bigint,
                    updated_at = ${now}::bigint, last_error = ${reason}
    FROM locked WHERE jobs.id = locked.id AND jobs.state IN ('pending', 'failed')
    RETURNING jobs.id`) as Row[];
  return rows.map((row) => String(row.id));
}

/** As sqlite/dependencies.ts refuseWaitingCycle; under the apply's exclusive dependency lock. */
export async function refuseWaitingCycle(tx: SQL, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const rows = (await tx`
    WITH RECURSIVE upstream(id) AS (
      SELECT unnest(${[...ids]}::text[])
      UNION SELECT d.depends_on FROM upstream JOIN job_deps d ON d.job_id = upstream.id
        JOIN jobs j ON j.id = d.job_id
        WHERE (j.blocked AND j.state IN ('pending', 'failed')) OR j.state = 'canceled')
    SELECT d.job_id, d.depends_on FROM upstream JOIN job_deps d ON d.job_id = upstream.id
      JOIN jobs j ON j.id = d.job_id
      WHERE (j.blocked AND j.state IN ('pending', 'failed')) OR j.state = 'canceled'`) as Row[];
  const looping = firstOnCycle(ids, rowsToEdges(rows));
  if (looping !== null) throw lateCycleError(looping);
}

/** As in sqlite/dependencies.ts: every `after` edge downstream of `ids`, with the waiting job's state. */
export async function dependentEdges(sql: SQL, ids: string[]): Promise<DependencyEdge[]> {
  if (ids.length === 0) return [];
  const rows = (await sql`
    WITH RECURSIVE downstream(id) AS (
      SELECT unnest(${ids}::text[])
      UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id)
    SELECT d.job_id, d.depends_on, jobs.state, jobs.blocked FROM job_deps d
    JOIN downstream ON d.depends_on = downstream.id JOIN jobs ON jobs.id = d.job_id
    ORDER BY d.job_id, d.depends_on`) as Row[];
  return rows.map((row) => ({
    id: String(row.job_id),
    dependsOn: String(row.depends_on),
    state: row.state as JobState,
    blocked: Boolean(row.blocked),
  }));
}

/**
 * `rootId` is queued again: the jobs still canceled because of it are decided again from all
 * of their dependencies, as in sqlite/dependencies.ts. The jobfile apply calls this (through
 * `setDependencies`, or directly) when a removed declaration comes back.
 */
export async function rearmDependents(tx: SQL, rootId: string, now: number): Promise<void> {
  const members = (
    (await tx`
      SELECT id FROM jobs WHERE state = 'canceled' AND canceled_by = ${rootId} ORDER BY id FOR UPDATE`) as Row[]
  ).map((row) => String(row.id));
  if (members.length === 0) return;
  const edges = rowsToEdges(
    (await tx`SELECT job_id, depends_on FROM job_deps WHERE job_id = ANY(${members}::text[])`) as Row[],
  );
  for (const id of dependencyOrder(members, edges)) {
    const decision = dependentState(await dependencyStatuses(tx, id));
    if (decision.state === "canceled") {
      await tx`
        UPDATE jobs SET canceled_by = ${decision.root}, last_error = ${decision.reason}, updated_at = ${now}::bigint
        WHERE id = ${id} AND state = 'canceled' AND canceled_by = ${rootId}`;
    } else {
      await tx`
        UPDATE jobs SET state = 'pending', blocked = ${decision.blocked}::boolean, canceled_by = NULL,
                        finished_at = NULL, last_error = NULL, attempts = 0, next_run_at = ${now}::bigint,
                        updated_at = ${now}::bigint
        WHERE id = ${id} AND state = 'canceled' AND canceled_by = ${rootId}`;
    }
  }
}
