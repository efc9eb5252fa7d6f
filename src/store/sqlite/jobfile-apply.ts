/**
 * Applies a jobfile reconciliation inside the caller's IMMEDIATE transaction. The plan was
 * computed from a snapshot; every row is re-read here, so two watchers racing on one folder
 * can never queue one declaration twice.
 */

import type { Database } from "bun:sqlite";
import type { JobState } from "../../core/job.ts";
import type { JobfileApplyResult, JobfileChanges, NewJob } from "../store.ts";
import { cancelDependents, setDependencies } from "./dependencies.ts";
import { insertValues } from "./insert.ts";

type Row = Record<string, unknown>;

export function applyJobfileChanges(db: Database, changes: JobfileChanges, now: number): JobfileApplyResult {
  const result: JobfileApplyResult = {
    created: [],
    updated: [],
    deferred: [],
    alreadyCompleted: [],
    canceled: [],
  };
  const select = db.query("SELECT state, revision, source, declared, next_revision FROM jobs WHERE id = ?");
  const insert = db.query(`
    INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                      next_run_at, source, declared)
    VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const completedBefore = db.query("SELECT 1 FROM completed_revisions WHERE job_id = ? AND revision = ?");
  const replace = db.query(`
    UPDATE jobs SET spec = ?, revision = ?, max_retries = ?, priority = ?, queue = ?, tags = ?, next_run_at = ?,
                    source = ?, declared = 1, state = 'pending', attempts = 0, updated_at = ?, finished_at = NULL,
                    exit_code = NULL, last_error = NULL, next_spec = NULL, next_revision = NULL, next_max_retries = NULL
    WHERE id = ?`);
  const redeclare = db.query(`
    UPDATE jobs SET spec = ?, revision = ?, source = ?, declared = 1, updated_at = ?, next_spec = NULL,
                    next_revision = NULL, next_max_retries = NULL
    WHERE id = ?`);
  const defer = db.query(`
    UPDATE jobs SET next_spec = ?, next_revision = ?, next_max_retries = ?, source = ?, declared = 1, updated_at = ?
    WHERE id = ?`);
  const dropDeferred = db.query(`
    UPDATE jobs SET next_spec = NULL, next_revision = NULL, next_max_retries = NULL, source = ?, declared = 1,
                    updated_at = ?
    WHERE id = ?`);

  // Rows whose spec was written; their dependencies are recorded once every row exists.
  const written: NewJob[] = [];
  const replaceWith = (job: NewJob) => {
    written.push(job);
    const [id, spec, revision, maxRetries, priority, queue, tags, , , nextRunAt, source] = insertValues(
      job,
      now,
    );
    replace.run(
      spec ?? null,
      revision ?? null,
      maxRetries ?? null,
      priority ?? null,
      queue ?? null,
      tags ?? null,
      nextRunAt ?? null,
      source ?? null,
      now,
      id ?? null,
    );
  };

  for (const job of [...changes.creates, ...changes.updates]) {
    const id = job.spec.id;
    const row = select.get(id) as Row | null;
    if (!row) {
      insert.run(...insertValues(job, now));
      written.push(job);
      result.created.push(id);
      continue;
    }
    // An ad hoc job owns this id; the planner reports the conflict, the store never overwrites it.
    if (row.source === null) continue;
    const state = row.state as JobState;
    const completed = completedBefore.get(id, job.revision) !== null;
    if (row.revision === job.revision) {
      const wasRemoved = !row.declared;
      if (wasRemoved && state === "canceled" && !completed) {
        replaceWith(job);
        result.updated.push(id);
      } else if (wasRemoved || row.source !== job.source || row.next_revision !== null) {
        // Also drops a revision deferred behind the running attempt that the file no longer declares.
        redeclare.run(JSON.stringify(job.spec), job.revision, job.source, now, id);
      }
      continue;
    }
    if (state === "pending" || state === "failed") {
      replaceWith(job);
      result.updated.push(id);
    } else if (state === "processing" && completed) {
      // Switching branches while it runs: the revision coming back already ran to completion.
      dropDeferred.run(job.source, now, id);
      result.alreadyCompleted.push(id);
    } else if (state === "processing") {
      defer.run(JSON.stringify(job.spec), job.revision, job.maxRetries, job.source, now, id);
      result.deferred.push(id);
    } else if (completed) {
      redeclare.run(JSON.stringify(job.spec), job.revision, job.source, now, id);
      result.alreadyCompleted.push(id);
    } else {
      replaceWith(job);
      result.updated.push(id);
    }
  }

  // In any order: a pipeline may list its steps before the jobs they wait for.
  for (const job of written) setDependencies(db, job.spec.id, job.spec.after, now);

  const remove = db.query(`
    UPDATE jobs SET declared = 0, next_spec = NULL, next_revision = NULL, next_max_retries = NULL, updated_at = ?1,
                    finished_at = CASE WHEN state IN ('pending', 'failed') THEN ?1 ELSE finished_at END,
                    last_error = CASE WHEN state IN ('pending', 'failed') THEN 'its jobfile was removed' ELSE last_error END,
                    state = CASE WHEN state IN ('pending', 'failed') THEN 'canceled' ELSE state END
    WHERE id = ?2 AND source IS NOT NULL AND declared = 1
    RETURNING state`);
  for (const id of changes.removals) {
    const before = select.get(id) as Row | null;
    const row = remove.get(now, id) as Row | null;
    if (row && before && (before.state === "pending" || before.state === "failed")) {
      result.canceled.push(id);
      cancelDependents(db, id, "canceled", now);
    }
  }
  return result;
}
