/**
 * Applies a jobfile reconciliation inside the caller's transaction, with the same rules
 * as the SQLite store (sqlite/jobfile-apply.ts).
 *
 * SQLite gets its safety from the single writer. Here two things replace it: an advisory
 * lock per schema serializes appliers (two watchers, or two hosts syncing one folder),
 * and each row is read `FOR UPDATE`, so a worker finishing that job concurrently either
 * finishes first (and we see its outcome) or waits for us (and promotes what we deferred).
 */

import type { SQL } from "bun";
import type { JobState } from "../../core/job.ts";
import type { JobfileApplyResult, JobfileChanges, NewJob } from "../store.ts";
import { cancelDependents, lockDependenciesExclusive, setDependencies } from "./dependencies.ts";
import { insertNewJobs } from "./insert.ts";

type Row = Record<string, unknown>;

export async function applyJobfileChanges(
  tx: SQL,
  schema: string,
  changes: JobfileChanges,
  now: number,
): Promise<JobfileApplyResult> {
  const result: JobfileApplyResult = {
    created: [],
    updated: [],
    deferred: [],
    alreadyCompleted: [],
    canceled: [],
  };
  await tx`SELECT pg_advisory_xact_lock(hashtext(${`queuectl.jobfiles.${schema}`}))`;
  // Both locks before any row lock, in this order everywhere, so they cannot deadlock.
  await lockDependenciesExclusive(tx, schema);
  // Rows whose spec was written; their dependencies are recorded once every row exists.
  const written: NewJob[] = [];

  const select = async (id: string): Promise<Row | undefined> =>
    (
      await tx`SELECT state, revision, source, declared, next_revision FROM jobs WHERE id = ${id} FOR UPDATE`
    )[0];
  const replace = (job: NewJob) => {
    written.push(job);
    return replaceRow(job);
  };
  const replaceRow = (job: NewJob) => tx`
    UPDATE jobs SET spec = ${JSON.stringify(job.spec)}::text::jsonb, revision = ${job.revision},
                    max_retries = ${job.maxRetries}::int, priority = ${job.spec.priority ?? 0}::int,
                    queue = ${job.spec.queue ?? "default"},
                    tags = ${JSON.stringify(job.spec.tags ?? [])}::text::jsonb,
                    next_run_at = ${job.nextRunAt}::bigint, source = ${job.source}, declared = TRUE,
                    state = 'pending', attempts = 0, updated_at = ${now}::bigint, finished_at = NULL,
                    exit_code = NULL, last_error = NULL, next_spec = NULL, next_revision = NULL,
                    next_max_retries = NULL
    WHERE id = ${job.spec.id}`;
  const redeclare = (job: NewJob) => tx`
    UPDATE jobs SET spec = ${JSON.stringify(job.spec)}::text::jsonb, revision = ${job.revision},
                    source = ${job.source}, declared = TRUE, updated_at = ${now}::bigint,
                    next_spec = NULL, next_revision = NULL, next_max_retries = NULL
    WHERE id = ${job.spec.id}`;
  const defer = (job: NewJob) => tx`
    UPDATE jobs SET next_spec = ${JSON.stringify(job.spec)}::text::jsonb, next_revision = ${job.revision},
                    next_max_retries = ${job.maxRetries}::int, source = ${job.source}, declared = TRUE,
                    updated_at = ${now}::bigint
    WHERE id = ${job.spec.id}`;
  const dropDeferred = (job: NewJob) => tx`
    UPDATE jobs SET next_spec = NULL, next_revision = NULL, next_max_retries = NULL, source = ${job.source},
                    declared = TRUE, updated_at = ${now}::bigint
    WHERE id = ${job.spec.id}`;
  const completedBefore = async (id: string, revision: string): Promise<boolean> =>
    (await tx`SELECT 1 FROM completed_revisions WHERE job_id = ${id} AND revision = ${revision}`).length > 0;

  for (const job of [...changes.creates, ...changes.updates]) {
    const id = job.spec.id;
    let row = await select(id);
    if (!row) {
      // An enqueue may have taken the id since the read above; then it is handled like any existing row.
      if ((await insertNewJobs(tx, [job], now)).has(id)) {
        written.push(job);
        result.created.push(id);
        continue;
      }
      row = await select(id);
      if (!row) continue;
    }
    // An ad hoc job owns this id; the planner reports the conflict, the store never overwrites it.
    if (row.source === null) continue;
    const state = row.state as JobState;
    const completed = await completedBefore(id, job.revision);
    if (row.revision === job.revision) {
      const wasRemoved = !row.declared;
      if (wasRemoved && state === "canceled" && !completed) {
        await replace(job);
        result.updated.push(id);
      } else if (wasRemoved || row.source !== job.source || row.next_revision !== null) {
        // Also drops a revision deferred behind the running attempt that the file no longer declares.
        await redeclare(job);
      }
      continue;
    }
    if (state === "pending" || state === "failed") {
      await replace(job);
      result.updated.push(id);
    } else if (state === "processing" && completed) {
      // Switching branches while it runs: the revision coming back already ran to completion.
      await dropDeferred(job);
      result.alreadyCompleted.push(id);
    } else if (state === "processing") {
      await defer(job);
      result.deferred.push(id);
    } else if (completed) {
      await redeclare(job);
      result.alreadyCompleted.push(id);
    } else {
      await replace(job);
      result.updated.push(id);
    }
  }

  // In any order: a pipeline may list its steps before the jobs they wait for.
  for (const job of written) await setDependencies(tx, job.spec.id, job.spec.after, now);

  for (const id of changes.removals) {
    const [row] = await tx`
      WITH before AS (SELECT id, state FROM jobs WHERE id = ${id} FOR UPDATE)
      UPDATE jobs SET declared = FALSE, next_spec = NULL, next_revision = NULL, next_max_retries = NULL,
                      updated_at = ${now}::bigint,
                      finished_at = CASE WHEN jobs.state IN ('pending', 'failed') THEN ${now}::bigint
                                         ELSE finished_at END,
                      last_error = CASE WHEN jobs.state IN ('pending', 'failed') THEN 'its jobfile was removed'
                                        ELSE last_error END,
                      state = CASE WHEN jobs.state IN ('pending', 'failed') THEN 'canceled' ELSE jobs.state END
      FROM before
      WHERE jobs.id = before.id AND source IS NOT NULL AND declared
      RETURNING before.state AS previous`;
    if (row && (row.previous === "pending" || row.previous === "failed")) {
      result.canceled.push(id);
      await cancelDependents(tx, id, "canceled", now);
    }
  }
  return result;
}
