/**
 * A claimed job's run on PostgreSQL: lease renewal and the fenced outcomes (claim.ts takes
 * the job). Same names and semantics as the SQLite store; the SQL differs where noted.
 */

import type { SQL } from "bun";
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
import { pgText } from "./connection.ts";
import {
  cancelDependents,
  lockDependenciesShared,
  releaseDependents,
  setDependenciesAgain,
} from "./dependencies.ts";
import { recordWebhookEvent } from "./webhooks.ts";

export async function extendLease(sql: SQL, params: LeaseExtendParams): Promise<boolean> {
  const result = await sql`
    UPDATE jobs SET lease_until = ${params.leaseUntil}::bigint
    WHERE id = ${params.id} AND token = ${params.token}::int AND state = 'processing'`;
  return result.count > 0;
}

/** One statement for all of a worker's leases. */
export async function renewLeases(sql: SQL, params: LeaseRenewParams): Promise<RenewedLease[]> {
  if (params.leases.length === 0) return [];
  const ids = params.leases.map((lease) => lease.id);
  const tokens = params.leases.map((lease) => lease.token);
  // Rows are locked in id order, as the completion round locks them (complete-many.ts):
  // two statements that lock the same rows in different orders can deadlock.
  const rows = await sql`
    UPDATE jobs SET lease_until = ${params.leaseUntil}::bigint
    FROM (SELECT jobs.id FROM jobs JOIN unnest(${ids}::text[], ${tokens}::int[]) AS held(id, token)
            ON jobs.id = held.id AND jobs.token = held.token
          WHERE jobs.state = 'processing' ORDER BY jobs.id FOR UPDATE OF jobs) AS locked
    WHERE jobs.id = locked.id
    RETURNING jobs.id, jobs.token, jobs.kill_requested`;
  return rows.map(rowToRenewedLease);
}

/** A plain kill outranks `kill --retry`, whichever came first, as the worker's attempts.ts has it. */
export async function requestKill(tx: SQL, params: KillRequestParams): Promise<KillTarget | null> {
  const [row] = await tx`
    UPDATE jobs SET kill_requested = CASE WHEN kill_requested = 'cancel' THEN 'cancel' ELSE ${params.mode}::text END
    WHERE id = ${params.id} AND state = 'processing'
    RETURNING worker_id, token`;
  return row ? rowToKillTarget(row) : null;
}

export async function completeJob(tx: SQL, schema: string, params: JobCompleteParams): Promise<boolean> {
  await lockDependenciesShared(tx, schema);
  const [row] = await tx`
    UPDATE jobs SET state = 'completed', finished_at = COALESCE(${params.result.finishedAt ?? null}::bigint, ${params.now}::bigint),
                    updated_at = ${params.now}::bigint,
                    lease_until = NULL, exit_code = ${params.result.exitCode}::int, last_error = NULL,
                    started_at = COALESCE(${params.result.startedAt ?? null}::bigint, started_at)
    WHERE id = ${params.id} AND token = ${params.token}::int AND state = 'processing'
    RETURNING revision, source IS NOT NULL AS declared, next_spec IS NOT NULL AS has_next`;
  if (!row) return false;
  // Only jobfile reconciliation asks which revisions completed; ad hoc jobs skip the write.
  if (row.declared) {
    await tx`INSERT INTO completed_revisions (job_id, revision, completed_at)
             VALUES (${params.id}, ${row.revision}, ${params.now}::bigint) ON CONFLICT DO NOTHING`;
  }
  await finishAttempt(tx, params.id, params.token, params.now, params.result);
  await recordWebhookEvent(tx, params.id, params.now);
  await releaseDependents(tx, params.id, params.now);
  if (row.has_next) await promoteNextRevision(tx, params.id, params.now);
  return true;
}

export async function failJob(tx: SQL, schema: string, params: JobFailParams): Promise<JobFailResult | null> {
  // A dead job cancels its dependents, and so does a failed one whose jobfile was removed
  // (it is canceled instead of retried); a plain retry leaves them waiting.
  await lockDependenciesShared(tx, schema);
  // A rescue skips a row another transaction holds (a worker frozen or cut off in the middle
  // of one keeps its rows locked until the server ends it): waiting would hold back the
  // rescue of every other lapsed lease. The next check tries the row again.
  if (params.onlyIfLeaseExpiredBefore !== undefined) {
    const free = await tx`SELECT 1 FROM jobs WHERE id = ${params.id} FOR UPDATE SKIP LOCKED`;
    if (free.length === 0) return null;
  }
  const result = await tx`
    UPDATE jobs SET state = ${params.state}, next_run_at = ${params.nextRunAt}::bigint,
                    updated_at = ${params.now}::bigint, lease_until = NULL,
                    finished_at = CASE WHEN ${params.state}::text <> 'failed'
                                       THEN COALESCE(${params.result.finishedAt ?? null}::bigint, ${params.now}::bigint) END,
                    exit_code = ${params.result.exitCode}::int, last_error = ${pgText(params.result.error)}::text,
                    started_at = COALESCE(${params.result.startedAt ?? null}::bigint, started_at)
    WHERE id = ${params.id} AND token = ${params.token}::int AND state = 'processing'
      AND (${params.onlyIfLeaseExpiredBefore ?? null}::bigint IS NULL
           OR lease_until < ${params.onlyIfLeaseExpiredBefore ?? null}::bigint)
      AND (NOT ${params.unlessPlainKill ?? false}::boolean OR kill_requested IS DISTINCT FROM 'cancel')`;
  if (result.count === 0) return null;
  await finishAttempt(tx, params.id, params.token, params.now, params.result);
  // Its jobfile was removed while it ran: the run was allowed to finish, not to be retried.
  const undeclared = await tx`
    UPDATE jobs SET state = 'canceled', finished_at = ${params.now}::bigint,
                    last_error = last_error || ${NOT_RETRIED_SUFFIX}::text
    WHERE id = ${params.id} AND state = 'failed' AND source IS NOT NULL AND NOT declared AND next_spec IS NULL
      AND schedule_id IS NULL`;
  // After the jobfile check: a failure that will not be retried is not announced as `failed`.
  await recordWebhookEvent(tx, params.id, params.now);
  // A job its jobfile changed under starts over as the new revision: what waits on it waits on.
  const promoted = await promoteNextRevision(tx, params.id, params.now);
  if (promoted !== null) return promotedResult(promoted, params.now);
  if (params.state !== "failed" || undeclared.count > 0) {
    await cancelDependents(tx, params.id, params.state === "dead" ? "dead" : "canceled", params.now);
  }
  if (undeclared.count > 0) return { state: "canceled", because: "jobfile-removed", nextRunAt: null };
  return {
    state: params.state,
    because: null,
    nextRunAt: params.state === "failed" ? params.nextRunAt : null,
  };
}

export async function releaseJob(tx: SQL, params: JobReleaseParams): Promise<boolean> {
  const unstarted = params.unstarted ?? false;
  const result = await tx`
    UPDATE jobs SET state = CASE WHEN ${unstarted}::boolean AND attempts > 1 THEN 'failed' ELSE 'pending' END,
                    attempts = GREATEST(attempts - 1, 0), lease_until = NULL, worker_id = NULL,
                    -- Its place in line (next_run_at) stays, as sqlite/run.ts says why; unstarted,
                    -- a retry is still a retry.
                    updated_at = ${params.now}::bigint,
                    progress_pct = CASE WHEN ${unstarted}::boolean THEN progress_pct END,
                    progress_message = CASE WHEN ${unstarted}::boolean THEN progress_message END
    WHERE id = ${params.id} AND token = ${params.token}::int AND state = 'processing'
      AND kill_requested IS NULL`;
  if (result.count === 0) return false;
  if (params.unstarted) {
    await tx`DELETE FROM attempts WHERE job_id = ${params.id} AND token = ${params.token}::int`;
  } else {
    await tx`UPDATE attempts SET finished_at = ${params.now}::bigint, error = ${pgText(params.reason)}
             WHERE job_id = ${params.id} AND token = ${params.token}::int`;
  }
  if ((await promoteNextRevision(tx, params.id, params.now)) !== null) return true;
  // Its jobfile was removed while it was claimed: it was let finish, not run again. Handed
  // back (a stop, a timeout of `worker stop`, a job claimed ahead), it ends here.
  const undeclared = await tx`
    UPDATE jobs SET state = 'canceled', finished_at = ${params.now}::bigint, last_error = ${REMOVED_JOBFILE_REASON}::text
    WHERE id = ${params.id} AND state IN ('pending', 'failed') AND source IS NOT NULL AND NOT declared
      AND schedule_id IS NULL`;
  if (undeclared.count > 0) await cancelDependents(tx, params.id, "canceled", params.now);
  return true;
}

export async function expiredLeases(sql: SQL, params: ExpiredLeasesParams): Promise<Job[]> {
  const rows = await sql`
    SELECT * FROM jobs WHERE state = 'processing' AND lease_until < ${params.now}::bigint
    ORDER BY lease_until LIMIT ${params.limit}::bigint`;
  return rows.map(rowToJob);
}

async function finishAttempt(tx: SQL, id: string, token: number, now: number, result: RunResult) {
  await tx`
    UPDATE attempts SET finished_at = COALESCE(${result.finishedAt ?? null}::bigint, ${now}::bigint),
                        exit_code = ${result.exitCode}::int,
                        signal = ${result.signal}::text, error = ${pgText(result.error ?? result.note ?? null)}::text,
                        stdout_bytes = ${result.stdoutBytes}::bigint, stderr_bytes = ${result.stderrBytes}::bigint,
                        log_path = ${result.logPath}::text, output_tail = ${pgText(result.outputTail)}::text,
                        started_at = COALESCE(${result.startedAt ?? null}::bigint, started_at)
    WHERE job_id = ${id} AND token = ${token}::int`;
}

/** As in sqlite/run.ts: the deferred revision takes the row, shown completed if it completed before. */
export async function promoteNextRevision(
  tx: SQL,
  id: string,
  now: number,
): Promise<PromotedRevision | null> {
  const [shown] = (await tx`
    UPDATE jobs SET ${tx.unsafe(SHOW_DEFERRED_COMPLETED_SET)}, updated_at = ${now}::bigint
    WHERE id = ${id} AND next_spec IS NOT NULL AND state <> 'processing' AND ${tx.unsafe(DEFERRED_COMPLETED_SQL)}
    RETURNING spec`) as { spec: string | JobSpec }[];
  if (shown !== undefined) {
    await writeSpecColumns(tx, id, parsedSpec(shown.spec), null);
    await releaseDependents(tx, id, now);
    return "completed";
  }
  const [promoted] = (await tx`
    UPDATE jobs SET spec = next_spec, revision = next_revision, max_retries = next_max_retries,
                    state = 'pending', attempts = 0, updated_at = ${now}::bigint,
                    finished_at = NULL, next_spec = NULL, next_revision = NULL, next_max_retries = NULL
    WHERE id = ${id} AND next_spec IS NOT NULL AND state <> 'processing'
    RETURNING spec`) as { spec: string | JobSpec }[];
  if (promoted === undefined) return null;
  const spec = parsedSpec(promoted.spec);
  await writeSpecColumns(tx, id, spec, now);
  // As in sqlite/run.ts: the new revision waits for its own `after`.
  await setDependenciesAgain(tx, id, spec.after, now);
  return "pending";
}

function parsedSpec(spec: string | JobSpec): JobSpec {
  return (typeof spec === "string" ? JSON.parse(spec) : spec) as JobSpec;
}

/** The columns read from a promoted spec, and when it may start (now null: left as it is). */
async function writeSpecColumns(tx: SQL, id: string, spec: JobSpec, now: number | null): Promise<void> {
  const columns = specColumns(spec);
  await tx`
    UPDATE jobs SET priority = ${columns.priority}::int, queue = ${columns.queue},
                    tags = ${columns.tags}::text::jsonb,
                    next_run_at = COALESCE(${now === null ? null : firstRunAt(spec, now)}::bigint, next_run_at)
    WHERE id = ${id}`;
}
