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
import { UserError } from "../../core/errors.ts";

function lockKey(schema: string): string {
  return `queuectl.dependencies.${schema}`;
}

export async function lockDependenciesExclusive(tx: SQL, schema: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey(schema)}))`;
}

export async function lockDependenciesShared(tx: SQL, schema: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock_shared(hashtext(${lockKey(schema)}))`;
}

/** Replaces the job's dependency rows and marks it blocked when any dependency is unfinished. */
export async function setDependencies(
  tx: SQL,
  jobId: string,
  after: readonly string[] | undefined,
  now: number,
): Promise<void> {
  await tx`DELETE FROM job_deps WHERE job_id = ${jobId}`;
  if (!after || after.length === 0) {
    await tx`UPDATE jobs SET blocked = FALSE WHERE id = ${jobId} AND blocked`;
    return;
  }
  const rows = (await tx`SELECT id, state FROM jobs WHERE id = ANY(${[...after]}::text[])`) as {
    id: string;
    state: string;
  }[];
  const states = new Map(rows.map((row) => [row.id, row.state]));
  const missing = after.find((dependency) => !states.has(dependency));
  if (missing !== undefined) {
    throw new UserError(
      `job "${jobId}" waits for "${missing}", which is not in the queue`,
      "enqueue that job first, in the same file, or fix the `after` list",
    );
  }
  await tx`
    INSERT INTO job_deps (job_id, depends_on)
    SELECT ${jobId}, depends_on FROM unnest(${[...after]}::text[]) AS u(depends_on)
    ON CONFLICT DO NOTHING`;
  const unfinished = after.some((dependency) => states.get(dependency) !== "completed");
  await tx`UPDATE jobs SET blocked = ${unfinished}::boolean, updated_at = ${now}::bigint WHERE id = ${jobId}`;
  // A dependency that already ended badly would leave this job waiting forever: it is
  // canceled at once, as if it had been waiting, so retrying the dependency re-arms it.
  const ended = after.find((dependency) => ["dead", "canceled"].includes(states.get(dependency) ?? ""));
  if (ended !== undefined) {
    await tx`
      UPDATE jobs SET state = 'canceled', canceled_by = ${ended}, finished_at = ${now}::bigint,
                      updated_at = ${now}::bigint, last_error = ${`dependency ${ended} ended ${states.get(ended)}`}
      WHERE id = ${jobId} AND state IN ('pending', 'failed')`;
  }
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
 * canceled, remembering the root cause so a retry of that job can re-arm them.
 */
export async function cancelDependents(
  tx: SQL,
  rootId: string,
  rootState: string,
  now: number,
): Promise<void> {
  await tx`
    WITH RECURSIVE downstream(id) AS (
      SELECT job_id FROM job_deps WHERE depends_on = ${rootId}
      UNION SELECT d.job_id FROM job_deps d JOIN downstream ON d.depends_on = downstream.id),
    locked AS (
      SELECT jobs.id FROM jobs JOIN downstream ON downstream.id = jobs.id
      WHERE jobs.state IN ('pending', 'failed') ORDER BY jobs.id FOR UPDATE OF jobs)
    UPDATE jobs SET state = 'canceled', canceled_by = ${rootId}, finished_at = ${now}::bigint,
                    updated_at = ${now}::bigint,
                    last_error = 'dependency ' || ${rootId}::text || ' ended ' || ${rootState}::text
    FROM locked WHERE jobs.id = locked.id AND jobs.state IN ('pending', 'failed')`;
}

/** The root cause is queued again: jobs it canceled wait for it once more. */
export async function rearmDependents(tx: SQL, rootId: string, now: number): Promise<void> {
  await tx`
    UPDATE jobs SET state = 'pending', blocked = TRUE, canceled_by = NULL, finished_at = NULL, last_error = NULL,
                    attempts = 0, next_run_at = ${now}::bigint, updated_at = ${now}::bigint
    WHERE canceled_by = ${rootId}`;
}
