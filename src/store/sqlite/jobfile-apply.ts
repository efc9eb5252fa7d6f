/**
 * Applies a jobfile reconciliation inside the caller's IMMEDIATE transaction. The plan was
 * made from a snapshot; here every row is read again and src/core/reconcile.ts decides its
 * action again, so two watchers racing on one folder never queue one declaration twice and
 * a revision that completed meanwhile is never queued. This file only reads and writes.
 */

import type { Database } from "bun:sqlite";
import { decideDeclaration, historyById } from "../../core/reconcile.ts";
import {
  JobfileApplyBook,
  oncePerId,
  removalsToApply,
  SHOWN_ATTEMPTS,
  SHOWN_REVISION_REPORTS,
  type WrittenDecision as Written,
} from "../jobfile-apply.ts";
import type { JobfileApplyParams } from "../params.ts";
import type { DeclaredChange, JobfileApplyResult } from "../records.ts";
import { REMOVED_JOBFILE_REASON } from "../removal-cancel.ts";
import {
  cancelDependents,
  rearmDependents,
  refuseWaitingCycle,
  releaseDependents,
  setDependencies,
} from "./dependencies.ts";
import { insertValues } from "./insert.ts";
import { completedRevisionList, jobDeclarations } from "./jobfile-declarations.ts";

function writer(db: Database, now: number) {
  const spec = (job: DeclaredChange) => ({
    id: job.spec.id,
    json: JSON.stringify(job.spec),
    revision: job.revision,
    maxRetries: job.maxRetries,
    priority: job.spec.priority ?? 0,
    queue: job.spec.queue ?? "default",
    tags: JSON.stringify(job.spec.tags ?? []),
    nextRunAt: job.nextRunAt,
  });
  // Leaves a revision deferred behind the running attempt in place; dropDeferred removes it.
  const declaredBy = db.query(`
    UPDATE jobs SET source = ?1, owner = ?2, declared = 1, updated_at = ?3 WHERE id = ?4`);
  const dropDeferredRevision = db.query(
    "UPDATE jobs SET next_spec = NULL, next_revision = NULL, next_max_retries = NULL WHERE id = ?",
  );
  return {
    create(job: DeclaredChange) {
      db.query(`
        INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                          next_run_at, source, declared, owner)
        VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...insertValues(job, now), job.owner);
    },
    replace(job: DeclaredChange) {
      dropDeferredRevision.run(job.spec.id);
      const v = spec(job);
      db.query(`
        UPDATE jobs SET spec = ?, revision = ?, max_retries = ?, priority = ?, queue = ?, tags = ?, next_run_at = ?,
                        state = 'pending', attempts = 0, finished_at = NULL, exit_code = NULL, last_error = NULL,
                        canceled_by = NULL, blocked = 0
        WHERE id = ?`).run(v.json, v.revision, v.maxRetries, v.priority, v.queue, v.tags, v.nextRunAt, v.id);
      declaredBy.run(job.source, job.owner, now, job.spec.id);
    },
    defer(job: DeclaredChange) {
      db.query(`
        UPDATE jobs SET next_spec = ?, next_revision = ?, next_max_retries = ?, source = ?, owner = ?, declared = 1,
                        updated_at = ?
        WHERE id = ?`).run(
        JSON.stringify(job.spec),
        job.revision,
        job.maxRetries,
        job.source,
        job.owner,
        now,
        job.spec.id,
      );
    },
    showCompleted(job: DeclaredChange, decision: Written) {
      dropDeferredRevision.run(job.spec.id);
      const v = spec(job);
      db.query(`
        UPDATE jobs SET spec = ?1, revision = ?2, max_retries = ?3, priority = ?4, queue = ?5, tags = ?6,
                        state = 'completed', finished_at = ?7, exit_code = 0, last_error = NULL, canceled_by = NULL,
                        lease_until = NULL, ${SHOWN_REVISION_REPORTS("?2")},
                        attempts = ${SHOWN_ATTEMPTS("?2", "?3")},
                        -- Its start too, not that of the revision it replaces (none once purged).
                        started_at = (SELECT a.started_at FROM attempts a
                                      WHERE a.job_id = jobs.id AND a.revision = ?2 AND a.exit_code = 0
                                      ORDER BY a.token DESC LIMIT 1)
        WHERE id = ?8`).run(
        v.json,
        v.revision,
        v.maxRetries,
        v.priority,
        v.queue,
        v.tags,
        decision.completed?.at ?? now,
        v.id,
      );
      declaredBy.run(job.source, job.owner, now, job.spec.id);
    },
    // The running attempt finishes under its own spec; only the queued revision goes.
    dropDeferred(job: DeclaredChange) {
      dropDeferredRevision.run(job.spec.id);
      declaredBy.run(job.source, job.owner, now, job.spec.id);
    },
    // The declared revision already completed: deferred behind the run like any change, it
    // takes the row shown completed once the run ends, whatever its outcome (run.ts).
    skipCompleted(job: DeclaredChange) {
      this.defer(job);
    },
    redeclare(job: DeclaredChange) {
      declaredBy.run(job.source, job.owner, now, job.spec.id);
    },
  };
}

export function applyJobfileChanges(db: Database, params: JobfileApplyParams): JobfileApplyResult {
  const { changes, now } = params;
  const write = writer(db, now);
  // Every row this apply decides on, read once: each decision depends on its own row only.
  const readAll = (ids: string[]) => new Map(jobDeclarations(db, { ids }).map((facts) => [facts.id, facts]));
  const declared = readAll(changes.declarations.map((job) => job.spec.id));
  const rowless = changes.declarations.map((job) => job.spec.id).filter((id) => !declared.has(id));
  const history = historyById(completedRevisionList(db, { ids: rowless }));
  const book = new JobfileApplyBook(declared);

  for (const job of oncePerId(changes.declarations)) {
    const id = job.spec.id;
    const decision = decideDeclaration(declared.get(id) ?? null, job, history.get(id));
    if (decision.action === "nothing" || decision.action === "refuse") continue;
    // A row purged while its file was away comes back as the revision it completed.
    if (decision.action === "showCompleted" && !declared.has(id)) write.create(job);
    write[decision.action](job, decision);
    book.applied(job, decision);
  }
  // In any order: a pipeline may list its steps before the jobs they wait for.
  for (const job of book.written) setDependencies(db, job.spec.id, job.spec.after, now);
  refuseWaitingCycle(
    db,
    book.written.filter((job) => (job.spec.after ?? []).length > 0).map((job) => job.spec.id),
  );
  for (const id of book.rearming) rearmDependents(db, id, now);
  for (const id of book.releasing) releaseDependents(db, id, now);
  book.rearmed(readAll(book.rearmable()));

  // A job its dependency canceled (earlier in this loop, or in an earlier sync) is canceled
  // for its own file's removal from now on, canceled_by cleared, whether the removal cancels
  // or forgets it: a return of the dependency's file must not re-arm a job whose file is gone,
  // and only that job's own file coming back may restore it.
  const cancel = db.query(`
    UPDATE jobs SET state = 'canceled', finished_at = ?1, last_error = '${REMOVED_JOBFILE_REASON}', canceled_by = NULL
    WHERE id = ?2`);
  const forget = db.query(`
    UPDATE jobs SET declared = 0, next_spec = NULL, next_revision = NULL, next_max_retries = NULL, updated_at = ?1,
                    last_error = CASE WHEN canceled_by IS NULL THEN last_error ELSE '${REMOVED_JOBFILE_REASON}' END,
                    canceled_by = NULL
    WHERE id = ?2`);
  const removed = readAll(changes.removals.map((removal) => removal.id));
  for (const { id, action } of removalsToApply(changes.removals, removed)) {
    forget.run(now, id);
    if (action === "cancel") cancel.run(now, id);
    book.removed(id, action, action === "cancel" ? cancelDependents(db, id, "canceled", now) : []);
  }
  return book.finish();
}
