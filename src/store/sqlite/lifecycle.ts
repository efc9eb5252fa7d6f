/**
 * The life of a claimed job on SQLite: claim, lease renewal, completion, failure, release
 * and the manual state moves. Each function runs inside the caller's IMMEDIATE transaction;
 * SQLite's single writer is what makes the claim's read-then-update atomic.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { rowToJob } from "../rows.ts";
import type { HeldLease, KillMode, RenewedLease, RunResult, Store } from "../store.ts";
import {
  cancelDependents,
  refuseIfDependencyEnded,
  releaseDependents,
  setDependencies,
} from "./dependencies.ts";
import { recordWebhookEvent } from "./webhooks.ts";

type Row = Record<string, unknown>;
export type FailParams = Parameters<Store["jobFail"]>[0];
export type TransitionParams = Parameters<Store["jobTransition"]>[0];

export function claimJob(
  db: Database,
  params: { workerId: string; host: string; now: number; leaseMs: number; queues?: string[] | null },
): Job | null {
  const claim = db.query(`
    UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                    lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL, kill_requested = NULL
    WHERE seq = (
      -- INDEXED BY: left alone, the planner prefers jobs_state and sorts every candidate
      -- (about 70 claims/s on a 100k-job table instead of thousands).
      -- Queue limits are enforced here, inside the write lock, so no two claims can both
      -- take the last free slot of a queue.
      SELECT seq FROM jobs INDEXED BY jobs_claim
      WHERE state IN ('pending', 'failed') AND blocked = 0 AND next_run_at <= ?3
        AND (?4 IS NULL OR queue IN (SELECT value FROM json_each(?4)))
        AND queue NOT IN (
          SELECT name FROM queues
          WHERE paused = 1 OR (concurrency IS NOT NULL AND concurrency <= (
            SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
      ORDER BY priority DESC, next_run_at, seq LIMIT 1)
    RETURNING *`);
  const recordAttempt = db.query(`
    INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const queues = params.queues ? JSON.stringify(params.queues) : null;
  const row = claim.get(params.workerId, params.now + params.leaseMs, params.now, queues) as Row | null;
  if (!row) return null;
  const job = rowToJob(row);
  recordAttempt.run(job.id, job.token, job.attempts, params.workerId, params.host, params.now, job.revision);
  return job;
}

export function extendLease(
  db: Database,
  params: { id: string; token: number; leaseUntil: number },
): boolean {
  const result = db
    .query("UPDATE jobs SET lease_until = ? WHERE id = ? AND token = ? AND state = 'processing'")
    .run(params.leaseUntil, params.id, params.token);
  return result.changes > 0;
}

/** One statement for all of a worker's leases; `id IN` keeps it on the primary key. */
export function renewLeases(
  db: Database,
  params: { leases: HeldLease[]; leaseUntil: number },
): RenewedLease[] {
  if (params.leases.length === 0) return [];
  const rows = db
    .query(`
      UPDATE jobs SET lease_until = ?1
      WHERE id IN (SELECT value ->> 0 FROM json_each(?2)) AND state = 'processing'
        AND EXISTS (SELECT 1 FROM json_each(?2) AS held WHERE held.value ->> 0 = jobs.id AND held.value ->> 1 = jobs.token)
      RETURNING id, token, kill_requested`)
    .all(params.leaseUntil, JSON.stringify(params.leases.map((lease) => [lease.id, lease.token]))) as Row[];
  return rows.map((row) => ({
    id: String(row.id),
    token: Number(row.token),
    killRequested: (row.kill_requested ?? null) as KillMode | null,
  }));
}

export function requestKill(
  db: Database,
  params: { id: string; mode: KillMode },
): { workerId: string | null; token: number } | null {
  const row = db
    .query(
      "UPDATE jobs SET kill_requested = ? WHERE id = ? AND state = 'processing' RETURNING worker_id, token",
    )
    .get(params.mode, params.id) as Row | null;
  return row ? { workerId: (row.worker_id ?? null) as string | null, token: Number(row.token) } : null;
}

export function expiredLeases(db: Database, params: { now: number; limit: number }): Job[] {
  const rows = db
    .query("SELECT * FROM jobs WHERE state = 'processing' AND lease_until < ? ORDER BY lease_until LIMIT ?")
    .all(params.now, params.limit) as Row[];
  return rows.map(rowToJob);
}

export function completeJob(
  db: Database,
  params: { id: string; token: number; now: number; result: RunResult },
): boolean {
  const row = db
    .query(`
        UPDATE jobs SET state = 'completed', finished_at = ?1, updated_at = ?1, lease_until = NULL,
                        exit_code = ?2, last_error = NULL
        WHERE id = ?3 AND token = ?4 AND state = 'processing'
        RETURNING revision, source IS NOT NULL AS declared, next_spec IS NOT NULL AS has_next`)
    .get(params.now, params.result.exitCode, params.id, params.token) as Row | null;
  if (!row) return false;
  // Only jobfile reconciliation asks which revisions completed; ad hoc jobs skip the write.
  if (row.declared) {
    db.query(
      "INSERT OR IGNORE INTO completed_revisions (job_id, revision, completed_at) VALUES (?, ?, ?)",
    ).run(params.id, String(row.revision), params.now);
  }
  finishAttempt(db, params.id, params.token, params.now, params.result);
  recordWebhookEvent(db, params.id, params.now);
  releaseDependents(db, params.id, params.now);
  if (row.has_next) promoteNextRevision(db, params.id, params.now);
  return true;
}

export function failJob(db: Database, params: FailParams): boolean {
  const changed = db
    .query(`
        UPDATE jobs SET state = ?1, next_run_at = ?2, updated_at = ?3, lease_until = NULL,
                        finished_at = CASE WHEN ?1 = 'failed' THEN NULL ELSE ?3 END,
                        exit_code = ?4, last_error = ?5
        WHERE id = ?6 AND token = ?7 AND state = 'processing' AND (?8 IS NULL OR lease_until < ?8)`)
    .run(
      params.state,
      params.nextRunAt,
      params.now,
      params.result.exitCode,
      params.result.error,
      params.id,
      params.token,
      params.onlyIfLeaseExpiredBefore ?? null,
    ).changes;
  if (changed === 0) return false;
  finishAttempt(db, params.id, params.token, params.now, params.result);
  // Its jobfile was removed while it ran: the run was allowed to finish, not to be retried.
  const undeclared = db
    .query(`
        UPDATE jobs SET state = 'canceled', finished_at = ?1,
                        last_error = last_error || ' (not retried: its jobfile was removed)'
        WHERE id = ?2 AND state = 'failed' AND source IS NOT NULL AND declared = 0 AND next_spec IS NULL`)
    .run(params.now, params.id).changes;
  if (params.state !== "failed" || undeclared > 0) {
    cancelDependents(db, params.id, params.state === "dead" ? "dead" : "canceled", params.now);
  }
  // After the jobfile check: a failure that will not be retried is not announced as `failed`.
  recordWebhookEvent(db, params.id, params.now);
  promoteNextRevision(db, params.id, params.now);
  return true;
}

export function releaseJob(
  db: Database,
  params: { id: string; token: number; now: number; reason: string },
): boolean {
  const changed = db
    .query(`
        UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_until = NULL, worker_id = NULL,
                        updated_at = ?1, next_run_at = ?1
        WHERE id = ?2 AND token = ?3 AND state = 'processing'`)
    .run(params.now, params.id, params.token).changes;
  if (changed === 0) return false;
  db.query("UPDATE attempts SET finished_at = ?, error = ? WHERE job_id = ? AND token = ?").run(
    params.now,
    params.reason,
    params.id,
    params.token,
  );
  promoteNextRevision(db, params.id, params.now);
  return true;
}

export function transitionJobs(db: Database, params: TransitionParams): Job[] {
  // One job queued by hand must be able to run; a bulk move lets the dependency decide instead.
  if (params.to === "pending" && params.id !== undefined) refuseIfDependencyEnded(db, params.id, params.from);
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
        WHERE (?4 IS NULL OR id = ?4) AND state IN (SELECT value FROM json_each(?5))
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
      setDependencies(db, job.id, job.spec.after, params.now);
    }
  }
  return moved;
}

function finishAttempt(db: Database, id: string, token: number, now: number, result: RunResult): void {
  db.query(`
      UPDATE attempts SET finished_at = ?, exit_code = ?, signal = ?, error = ?, stdout_bytes = ?, stderr_bytes = ?,
                          log_path = ?, output_tail = ?
      WHERE job_id = ? AND token = ?`).run(
    now,
    result.exitCode,
    result.signal,
    result.error,
    result.stdoutBytes,
    result.stderrBytes,
    result.logPath,
    result.outputTail,
    id,
    token,
  );
}

/** A jobfile changed while the job ran: the new revision starts fresh once this run ends. */
function promoteNextRevision(db: Database, id: string, now: number): void {
  db.query(`
      UPDATE jobs SET spec = next_spec, revision = next_revision, max_retries = next_max_retries,
                      state = 'pending', attempts = 0, next_run_at = ?1, updated_at = ?1, finished_at = NULL,
                      next_spec = NULL, next_revision = NULL, next_max_retries = NULL
      WHERE id = ?2 AND next_spec IS NOT NULL AND state <> 'processing'`).run(now, id);
}
