/**
 * A claimed job's run on SQLite: lease renewal, kill requests and the fenced outcomes
 * (claim.ts takes the job). Writes run inside the caller's IMMEDIATE transaction.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { firstRunAt, type JobSpec, specColumns } from "../../core/spec.ts";
import { DEFERRED_COMPLETED_SQL, SHOW_DEFERRED_COMPLETED_SET } from "../jobfile-apply.ts";
import type {
  ExpiredLeasesParams,
  JobCompleteParams,
  JobFailParams,
  JobReleaseParams,
  KillRequestParams,
  KillTarget,
  LeaseExtendParams,
  LeaseRenewParams,
} from "../params.ts";
import {
  type JobFailResult,
  type PromotedRevision,
  promotedResult,
  type RenewedLease,
  type RunResult,
} from "../records.ts";
import { NOT_RETRIED_SUFFIX, REMOVED_JOBFILE_REASON } from "../removal-cancel.ts";
import { rowToJob, rowToKillTarget, rowToRenewedLease } from "../rows.ts";
import { cancelDependents, releaseDependents, setDependenciesAgain } from "./dependencies.ts";
import { MAY_NOTIFY_SQL, recordWebhookEvent } from "./webhooks.ts";

type Row = Record<string, unknown>;

export function extendLease(db: Database, params: LeaseExtendParams): boolean {
  const result = db
    .query("UPDATE jobs SET lease_until = ? WHERE id = ? AND token = ? AND state = 'processing'")
    .run(params.leaseUntil, params.id, params.token);
  return result.changes > 0;
}

/** One statement for all of a worker's leases; `id IN` keeps it on the primary key. */
export function renewLeases(db: Database, params: LeaseRenewParams): RenewedLease[] {
  if (params.leases.length === 0) return [];
  const rows = db
    .query(`
      UPDATE jobs SET lease_until = ?1
      WHERE id IN (SELECT value ->> 0 FROM json_each(?2)) AND state = 'processing'
        AND EXISTS (SELECT 1 FROM json_each(?2) AS held WHERE held.value ->> 0 = jobs.id AND held.value ->> 1 = jobs.token)
      RETURNING id, token, kill_requested`)
    .all(params.leaseUntil, JSON.stringify(params.leases.map((lease) => [lease.id, lease.token]))) as Row[];
  return rows.map(rowToRenewedLease);
}

/** A plain kill outranks `kill --retry`, whichever came first, as the worker's attempts.ts has it. */
export function requestKill(db: Database, params: KillRequestParams): KillTarget | null {
  const row = db
    .query(`
      UPDATE jobs SET kill_requested = CASE WHEN kill_requested = 'cancel' THEN 'cancel' ELSE ?1 END
      WHERE id = ?2 AND state = 'processing' RETURNING worker_id, token`)
    .get(params.mode, params.id) as Row | null;
  return row ? rowToKillTarget(row) : null;
}

export function expiredLeases(db: Database, params: ExpiredLeasesParams): Job[] {
  const rows = db
    .query("SELECT * FROM jobs WHERE state = 'processing' AND lease_until < ? ORDER BY lease_until LIMIT ?")
    .all(params.now, params.limit) as Row[];
  return rows.map(rowToJob);
}

export function completeJob(db: Database, params: JobCompleteParams): boolean {
  const row = db
    .query(`
        UPDATE jobs SET state = 'completed', finished_at = COALESCE(?6, ?1), updated_at = ?1, lease_until = NULL,
                        exit_code = ?2, last_error = NULL, started_at = COALESCE(?5, started_at)
        WHERE id = ?3 AND token = ?4 AND state = 'processing'
        RETURNING revision, source IS NOT NULL AS declared, next_spec IS NOT NULL AS has_next,
                  EXISTS (SELECT 1 FROM job_deps d WHERE d.depends_on = jobs.id) AS has_dependents,
                  ${MAY_NOTIFY_SQL} AS has_webhooks`)
    .get(
      params.now,
      params.result.exitCode,
      params.id,
      params.token,
      params.result.startedAt ?? null,
      params.result.finishedAt ?? null,
    ) as Row | null;
  if (!row) return false;
  // Only jobfile reconciliation asks which revisions completed; ad hoc jobs skip the write.
  if (row.declared) {
    db.query(
      "INSERT OR IGNORE INTO completed_revisions (job_id, revision, completed_at) VALUES (?, ?, ?)",
    ).run(params.id, String(row.revision), params.now);
  }
  finishAttempt(db, params.id, params.token, params.now, params.result);
  // Most completions have no listener and no dependent: the row said so, and two queries
  // (about a tenth of a short job's completion) are skipped.
  if (row.has_webhooks) recordWebhookEvent(db, params.id, params.now);
  if (row.has_dependents) releaseDependents(db, params.id, params.now);
  if (row.has_next) promoteNextRevision(db, params.id, params.now);
  return true;
}

export function failJob(db: Database, params: JobFailParams): JobFailResult | null {
  const changed = db
    .query(`
        UPDATE jobs SET state = ?1, next_run_at = ?2, updated_at = ?3, lease_until = NULL,
                        finished_at = CASE WHEN ?1 = 'failed' THEN NULL ELSE COALESCE(?10, ?3) END,
                        exit_code = ?4, last_error = ?5, started_at = COALESCE(?9, started_at)
        WHERE id = ?6 AND token = ?7 AND state = 'processing' AND (?8 IS NULL OR lease_until < ?8)
          AND (?11 = 0 OR kill_requested IS NOT 'cancel')`)
    .run(
      params.state,
      params.nextRunAt,
      params.now,
      params.result.exitCode,
      params.result.error,
      params.id,
      params.token,
      params.onlyIfLeaseExpiredBefore ?? null,
      params.result.startedAt ?? null,
      params.result.finishedAt ?? null,
      params.unlessPlainKill ? 1 : 0,
    ).changes;
  if (changed === 0) return null;
  finishAttempt(db, params.id, params.token, params.now, params.result);
  // Its jobfile was removed while it ran: the run was allowed to finish, not to be retried.
  const undeclared = db
    .query(`
        UPDATE jobs SET state = 'canceled', finished_at = ?1,
                        last_error = last_error || '${NOT_RETRIED_SUFFIX}'
        WHERE id = ?2 AND state = 'failed' AND source IS NOT NULL AND declared = 0 AND next_spec IS NULL
          AND schedule_id IS NULL`)
    .run(params.now, params.id).changes;
  // After the jobfile check: a failure that will not be retried is not announced as `failed`.
  recordWebhookEvent(db, params.id, params.now);
  // A job its jobfile changed under starts over as the new revision: what waits on it waits on.
  const promoted = promoteNextRevision(db, params.id, params.now);
  if (promoted !== null) return promotedResult(promoted, params.now);
  if (params.state !== "failed" || undeclared > 0) {
    cancelDependents(db, params.id, params.state === "dead" ? "dead" : "canceled", params.now);
  }
  if (undeclared > 0) return { state: "canceled", because: "jobfile-removed", nextRunAt: null };
  return {
    state: params.state,
    because: null,
    nextRunAt: params.state === "failed" ? params.nextRunAt : null,
  };
}

export function releaseJob(db: Database, params: JobReleaseParams): boolean {
  const changed = db
    .query(`
        UPDATE jobs SET state = CASE WHEN ?4 AND attempts > 1 THEN 'failed' ELSE 'pending' END,
                        attempts = MAX(attempts - 1, 0), lease_until = NULL, worker_id = NULL,
                        updated_at = ?1,
                        -- A run handed back is not counted, and what it reported goes with it.
                        progress_pct = CASE WHEN ?4 THEN progress_pct END,
                        progress_message = CASE WHEN ?4 THEN progress_message END
        WHERE id = ?2 AND token = ?3 AND state = 'processing' AND kill_requested IS NULL`)
    // Its place in line stays (next_run_at as it was): equal priorities run in insertion order,
    // and a stopping worker's hand-back must not send its jobs behind those queued since.
    // Unstarted, it is as it was before the claim: a retry still a retry.
    .run(params.now, params.id, params.token, params.unstarted ? 1 : 0).changes;
  if (changed === 0) return false;
  if (params.unstarted) {
    db.query("DELETE FROM attempts WHERE job_id = ? AND token = ?").run(params.id, params.token);
  } else {
    db.query("UPDATE attempts SET finished_at = ?, error = ? WHERE job_id = ? AND token = ?").run(
      params.now,
      params.reason,
      params.id,
      params.token,
    );
  }
  if (promoteNextRevision(db, params.id, params.now) !== null) return true;
  // Its jobfile was removed while it was claimed: it was let finish, not run again. Handed
  // back (a stop, a timeout of `worker stop`, a job claimed ahead), it ends here.
  const undeclared = db
    .query(`
        UPDATE jobs SET state = 'canceled', finished_at = ?1, last_error = '${REMOVED_JOBFILE_REASON}'
        WHERE id = ?2 AND state IN ('pending', 'failed') AND source IS NOT NULL AND declared = 0 AND schedule_id IS NULL`)
    .run(params.now, params.id).changes;
  if (undeclared > 0) cancelDependents(db, params.id, "canceled", params.now);
  return true;
}

function finishAttempt(db: Database, id: string, token: number, now: number, result: RunResult): void {
  db.query(`
      UPDATE attempts SET finished_at = COALESCE(?, ?), exit_code = ?, signal = ?, error = ?, stdout_bytes = ?, stderr_bytes = ?,
                          log_path = ?, output_tail = ?, started_at = COALESCE(?, started_at)
      WHERE job_id = ? AND token = ?`).run(
    result.finishedAt ?? null,
    now,
    result.exitCode,
    result.signal,
    // A note (a result not stored) rides in the attempt's error without failing the run.
    result.error ?? result.note ?? null,
    result.stdoutBytes,
    result.stderrBytes,
    result.logPath,
    result.outputTail,
    result.startedAt ?? null,
    id,
    token,
  );
}

/**
 * A jobfile changed while the job ran: once this run ends, whatever its outcome, the
 * revision deferred behind it takes the row. One the job already completed (the file went
 * back to it) is shown completed, as a sync shows it, and never runs again; any other
 * starts fresh. Returns which, or null when nothing was deferred.
 */
export function promoteNextRevision(db: Database, id: string, now: number): PromotedRevision | null {
  const shown = db
    .query(`
      UPDATE jobs SET ${SHOW_DEFERRED_COMPLETED_SET}, updated_at = ?1
      WHERE id = ?2 AND next_spec IS NOT NULL AND state <> 'processing' AND ${DEFERRED_COMPLETED_SQL}
      RETURNING spec`)
    .get(now, id) as { spec: string } | null;
  if (shown !== null) {
    writeSpecColumns(db, id, JSON.parse(shown.spec) as JobSpec, null);
    releaseDependents(db, id, now);
    return "completed";
  }
  const promoted = db
    .query(`
      UPDATE jobs SET spec = next_spec, revision = next_revision, max_retries = next_max_retries,
                      state = 'pending', attempts = 0, updated_at = ?1, finished_at = NULL,
                      next_spec = NULL, next_revision = NULL, next_max_retries = NULL
      WHERE id = ?2 AND next_spec IS NOT NULL AND state <> 'processing'
      RETURNING spec`)
    .get(now, id) as { spec: string } | null;
  if (promoted === null) return null;
  const spec = JSON.parse(promoted.spec) as JobSpec;
  writeSpecColumns(db, id, spec, now);
  // The new revision waits for its own `after` (or is canceled at once), as any queued job.
  setDependenciesAgain(db, id, spec.after, now);
  return "pending";
}

/** The columns read from a promoted spec: its priority, queue and tags, and when it may start (null: left). */
function writeSpecColumns(db: Database, id: string, spec: JobSpec, now: number | null): void {
  const columns = specColumns(spec);
  db.query(`
    UPDATE jobs SET priority = ?1, queue = ?2, tags = ?3, next_run_at = COALESCE(?4, next_run_at) WHERE id = ?5`).run(
    columns.priority,
    columns.queue,
    columns.tags,
    now === null ? null : firstRunAt(spec, now),
    id,
  );
}
