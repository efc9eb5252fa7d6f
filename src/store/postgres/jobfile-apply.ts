/**
 * Applies a jobfile reconciliation inside the caller's transaction, as sqlite/jobfile-apply.ts
 * does: every row is read again and src/core/reconcile.ts decides its action again; this file
 * only reads and writes.
 *
 * SQLite gets its safety from the single writer. Here two things replace it: an advisory
 * lock per schema serializes appliers (two watchers, or two hosts syncing one folder),
 * and each row is read `FOR UPDATE`, so a worker finishing that job concurrently either
 * finishes first (and we see its outcome) or waits for us (and promotes what we deferred).
 */

import type { SQL } from "bun";
import { decideDeclaration, historyById } from "../../core/reconcile.ts";
import {
  JobfileApplyBook,
  oncePerId,
  removalsToApply,
  type WrittenDecision as Written,
} from "../jobfile-apply.ts";
import type { JobfileApplyParams } from "../params.ts";
import type { DeclaredChange, JobfileApplyResult } from "../records.ts";
import { REMOVED_JOBFILE_REASON } from "../removal-cancel.ts";
import {
  cancelDependents,
  lockDependenciesExclusive,
  rearmDependents,
  refuseWaitingCycle,
  releaseDependents,
  setDependencies,
} from "./dependencies.ts";
import { completedRevisionList, jobDeclarations } from "./jobfile-declarations.ts";

function writer(tx: SQL, now: number) {
  // Leaves a revision deferred behind the running attempt in place; dropDeferred removes it.
  const declaredBy = (job: DeclaredChange) => tx`
    UPDATE jobs SET source = ${job.source}, owner = ${job.owner}, declared = TRUE, updated_at = ${now}::bigint
    WHERE id = ${job.spec.id}`;
  const dropDeferredRevision = (job: DeclaredChange) => tx`
    UPDATE jobs SET next_spec = NULL, next_revision = NULL, next_max_retries = NULL WHERE id = ${job.spec.id}`;
  return {
    async create(job: DeclaredChange): Promise<boolean> {
      const rows = await tx`
        INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                          next_run_at, source, declared, owner)
        VALUES (${job.spec.id}, ${JSON.stringify(job.spec)}::text::jsonb, ${job.revision}, 'pending',
                ${job.maxRetries}::int, ${job.spec.priority ?? 0}::int, ${job.spec.queue ?? "default"},
                ${JSON.stringify(job.spec.tags ?? [])}::text::jsonb, ${now}::bigint, ${now}::bigint,
                ${job.nextRunAt}::bigint, ${job.source}, TRUE, ${job.owner})
        ON CONFLICT (id) DO NOTHING
        RETURNING id`;
      return rows.length > 0;
    },
    async replace(job: DeclaredChange) {
      await dropDeferredRevision(job);
      await tx`
        UPDATE jobs SET spec = ${JSON.stringify(job.spec)}::text::jsonb, revision = ${job.revision},
                        max_retries = ${job.maxRetries}::int, priority = ${job.spec.priority ?? 0}::int,
                        queue = ${job.spec.queue ?? "default"},
                        tags = ${JSON.stringify(job.spec.tags ?? [])}::text::jsonb,
                        next_run_at = ${job.nextRunAt}::bigint, state = 'pending', attempts = 0,
                        finished_at = NULL, exit_code = NULL, last_error = NULL, canceled_by = NULL,
                        blocked = FALSE
        WHERE id = ${job.spec.id}`;
      await declaredBy(job);
    },
    async defer(job: DeclaredChange) {
      await tx`
        UPDATE jobs SET next_spec = ${JSON.stringify(job.spec)}::text::jsonb, next_revision = ${job.revision},
                        next_max_retries = ${job.maxRetries}::int, source = ${job.source}, owner = ${job.owner},
                        declared = TRUE, updated_at = ${now}::bigint
        WHERE id = ${job.spec.id}`;
    },
    async showCompleted(job: DeclaredChange, decision: Written) {
      await dropDeferredRevision(job);
      await tx`
        UPDATE jobs SET spec = ${JSON.stringify(job.spec)}::text::jsonb, revision = ${job.revision},
                        max_retries = ${job.maxRetries}::int, priority = ${job.spec.priority ?? 0}::int,
                        queue = ${job.spec.queue ?? "default"},
                        tags = ${JSON.stringify(job.spec.tags ?? [])}::text::jsonb, state = 'completed',
                        finished_at = ${decision.completed?.at ?? now}::bigint, exit_code = 0, last_error = NULL,
                        canceled_by = NULL, lease_until = NULL,
                        result = CASE WHEN jobs.revision = ${job.revision} THEN jobs.result END,
                        progress_pct = CASE WHEN jobs.revision = ${job.revision} THEN jobs.progress_pct END,
                        progress_message = CASE WHEN jobs.revision = ${job.revision} THEN jobs.progress_message END,
                        -- The runs of the revision it shows: at least the one that completed it, at
                        -- most what its retries allow (SHOWN_ATTEMPTS, ../jobfile-apply.ts).
                        attempts = LEAST(${job.maxRetries}::int + 1, GREATEST(1, (SELECT COUNT(*) FROM attempts a
                                                WHERE a.job_id = jobs.id AND a.revision = ${job.revision}))),
                        -- Its start too, not that of the revision it replaces (none once purged).
                        started_at = (SELECT a.started_at FROM attempts a
                                      WHERE a.job_id = jobs.id AND a.revision = ${job.revision} AND a.exit_code = 0
                                      ORDER BY a.token DESC LIMIT 1)
        WHERE id = ${job.spec.id}`;
      await declaredBy(job);
    },
    // The running attempt finishes under its own spec; only the queued revision goes.
    async dropDeferred(job: DeclaredChange) {
      await dropDeferredRevision(job);
      await declaredBy(job);
    },
    // The declared revision already completed: deferred behind the run like any change, it
    // takes the row shown completed once the run ends, whatever its outcome (run.ts).
    async skipCompleted(job: DeclaredChange) {
      await this.defer(job);
    },
    async redeclare(job: DeclaredChange) {
      await declaredBy(job);
    },
  };
}

export async function applyJobfileChanges(
  tx: SQL,
  schema: string,
  params: JobfileApplyParams,
): Promise<JobfileApplyResult> {
  const { changes, now } = params;
  await tx`SELECT pg_advisory_xact_lock(hashtext(${`queuectl.jobfiles.${schema}`}))`;
  // Both locks before any row lock, in this order everywhere, so they cannot deadlock.
  await lockDependenciesExclusive(tx, schema);
  // Every row it decides on, locked at once in id order, as renewals and completion rounds
  // lock a worker's jobs: two batches, each in order, could still deadlock with them.
  const touched = [...changes.declarations.map((job) => job.spec.id), ...changes.removals.map((r) => r.id)];
  await tx`SELECT 1 FROM jobs WHERE id = ANY(${touched}::text[]) ORDER BY id FOR UPDATE`;
  const write = writer(tx, now);
  const read = async (id: string) => (await jobDeclarations(tx, { ids: [id] }, true))[0] ?? null;
  // Every row this apply decides on, read (and locked) once: each decision depends on its own row only.
  const readAll = async (ids: string[]) =>
    new Map((await jobDeclarations(tx, { ids }, true)).map((facts) => [facts.id, facts]));
  const declared = await readAll(changes.declarations.map((job) => job.spec.id));
  const rowless = changes.declarations.map((job) => job.spec.id).filter((id) => !declared.has(id));
  const history = historyById(await completedRevisionList(tx, { ids: rowless }));
  const book = new JobfileApplyBook(declared);

  for (const job of oncePerId(changes.declarations)) {
    const id = job.spec.id;
    let decision = decideDeclaration(declared.get(id) ?? null, job, history.get(id));
    // A row purged while its file was away comes back as the revision it completed: it is
    // inserted as a new row would be, then shown completed.
    const inserts =
      decision.action === "create" || (decision.action === "showCompleted" && !declared.has(id));
    // An enqueue may take the id between the read and the insert; then decide on its row.
    if (inserts && !(await write.create(job))) {
      decision = decideDeclaration(await read(id), job);
      if (decision.action === "create") continue;
    }
    if (decision.action === "nothing" || decision.action === "refuse") continue;
    if (decision.action !== "create") await write[decision.action](job, decision);
    book.applied(job, decision);
  }
  // In any order: a pipeline may list its steps before the jobs they wait for.
  for (const job of book.written) await setDependencies(tx, job.spec.id, job.spec.after, now);
  await refuseWaitingCycle(
    tx,
    book.written.filter((job) => (job.spec.after ?? []).length > 0).map((job) => job.spec.id),
  );
  for (const id of book.rearming) await rearmDependents(tx, id, now);
  for (const id of book.releasing) await releaseDependents(tx, id, now);
  book.rearmed(await readAll(book.rearmable()));

  const removed = await readAll(changes.removals.map((removal) => removal.id));
  for (const { id, action } of removalsToApply(changes.removals, removed)) {
    // canceled_by is cleared, as on SQLite (its jobfile-apply.ts says why).
    await tx`
      UPDATE jobs SET declared = FALSE, next_spec = NULL, next_revision = NULL, next_max_retries = NULL,
                      updated_at = ${now}::bigint,
                      last_error = CASE WHEN canceled_by IS NULL THEN last_error ELSE ${REMOVED_JOBFILE_REASON}::text END,
                      canceled_by = NULL
      WHERE id = ${id}`;
    let dependents: string[] = [];
    if (action === "cancel") {
      await tx`
        UPDATE jobs SET state = 'canceled', finished_at = ${now}::bigint, last_error = ${REMOVED_JOBFILE_REASON}::text,
                        canceled_by = NULL
        WHERE id = ${id}`;
      dependents = await cancelDependents(tx, id, "canceled", now);
    }
    book.removed(id, action, dependents);
  }
  return book.finish();
}
