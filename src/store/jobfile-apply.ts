/**
 * The bookkeeping of a jobfile apply that both backends share: which declarations to act
 * on, which removals, and what the result reports; and how a revision deferred behind a run
 * shows completed when the run ends. The decisions themselves are
 * src/core/reconcile.ts's; each backend's jobfile-apply.ts reads the rows and writes.
 */

import {
  type Decision,
  decideRemoval,
  idsByAction,
  isOwnedBy,
  type JobFacts,
  type JobfileAction,
} from "../core/reconcile.ts";
import type { DeclaredChange, JobfileApplyResult, JobfileChanges } from "./records.ts";

/** A decision that writes something. */
export type WrittenDecision = Exclude<Decision, { action: "nothing" | "refuse" }>;

/** One declaration per id (the planner never sends two); a repeat would act on a stale read. */
export function oncePerId(declarations: DeclaredChange[]): DeclaredChange[] {
  const seen = new Set<string>();
  return declarations.filter((job) => {
    if (seen.has(job.spec.id)) return false;
    seen.add(job.spec.id);
    return true;
  });
}

/** The removals the folder that sends them may carry out: of jobs it owns, that still need it. */
export function removalsToApply(
  removals: JobfileChanges["removals"],
  rows: Map<string, JobFacts>,
): { id: string; action: "cancel" | "forget" }[] {
  return removals.flatMap((removal) => {
    const facts = rows.get(removal.id);
    if (!facts || !isOwnedBy(facts, removal.owner)) return [];
    const action = decideRemoval(facts);
    return action === "nothing" ? [] : [{ id: removal.id, action }];
  });
}

export class JobfileApplyBook {
  private readonly result: JobfileApplyResult = { ...idsByAction(), rearmed: [], canceledDependents: [] };
  /** Declarations whose spec was written: their dependencies are recorded once every row exists. */
  readonly written: DeclaredChange[] = [];
  /** Ids declared again whose earlier removal canceled dependents. */
  readonly rearming: string[] = [];
  /**
   * Ids the apply left completed while jobs may wait on them: a job shown as a revision it
   * completed (a `git revert` dropping the waiting run of a newer one), and those re-arming.
   * Their waiting dependents are released, or they would wait on a completed job for ever.
   */
  readonly releasing: string[] = [];

  /** `declared`: the rows as read before this apply wrote anything. */
  constructor(private readonly declared: Map<string, JobFacts>) {}

  applied(job: DeclaredChange, decision: WrittenDecision): void {
    this.result[decision.action].push(job.spec.id);
    // Only actions that wrote the declared spec record its dependencies.
    if (
      decision.action !== "defer" &&
      decision.action !== "dropDeferred" &&
      decision.action !== "skipCompleted"
    )
      this.written.push(job);
    if (decision.rearms.length > 0) this.rearming.push(job.spec.id);
    if (decision.rearms.length > 0 || decision.action === "showCompleted") this.releasing.push(job.spec.id);
  }

  /** The jobs that declarations queued again had canceled, as first read: those the apply may re-arm. */
  rearmable(): string[] {
    return [...new Set(this.rearming.flatMap((id) => this.declared.get(id)?.canceledDependents ?? []))];
  }

  /**
   * `rows`: the rearmable jobs as they are once every re-arm ran. Those no longer canceled
   * were re-armed; one still canceled (another of its dependencies ended too) was not, though
   * the cause it names may have changed.
   */
  rearmed(rows: Map<string, JobFacts>): void {
    this.result.rearmed.push(...this.rearmable().filter((id) => rows.get(id)?.state !== "canceled"));
  }

  /** `dependents`: the jobs a cancel canceled with it (they waited on it). */
  removed(id: string, action: Extract<JobfileAction, "cancel" | "forget">, dependents: string[] = []): void {
    this.result[action].push(id);
    this.result.canceledDependents.push(...dependents);
  }

  finish(): JobfileApplyResult {
    this.result.rearmed.sort();
    // A job canceled by another removal's cascade before its own removal ran is reported
    // once, as that removal, as the plan lists it (core/dependencies.ts, cascadeOf).
    const removed = new Set([...this.result.cancel, ...this.result.forget]);
    this.result.canceledDependents = this.result.canceledDependents.filter((id) => !removed.has(id)).sort();
    return this.result;
  }
}

/** A row whose revision deferred behind its run is one the job completed (the file went back to it). */
export const DEFERRED_COMPLETED_SQL =
  "EXISTS (SELECT 1 FROM completed_revisions c WHERE c.job_id = jobs.id AND c.revision = jobs.next_revision)";

/**
 * The result and progress a row keeps when it is shown as another revision completed: the
 * ones the row holds came from the last run, of another revision (a run that failed, or that
 * completed a revision the file no longer declares), and would reach the jobs waiting on it.
 * The completed revision's own result is not kept apart, so none is shown. `shown` is SQL
 * naming the revision shown; plain SQL that SQLite and PostgreSQL read alike.
 */
export const SHOWN_REVISION_REPORTS = (shown: string): string => `
  result = CASE WHEN jobs.revision = ${shown} THEN jobs.result END,
  progress_pct = CASE WHEN jobs.revision = ${shown} THEN jobs.progress_pct END,
  progress_message = CASE WHEN jobs.revision = ${shown} THEN jobs.progress_message END`;

/**
 * The attempts a row shown as a completed revision counts: the runs of that revision, at least
 * the one that completed it, and at most the runs its retries allow (a `dlq retry` before it
 * completed gave it more runs than that; "2/1" would read as a broken rule).
 */
export const SHOWN_ATTEMPTS = (shown: string, maxRetries: string): string => `
  (SELECT CASE WHEN COUNT(*) = 0 THEN 1 WHEN COUNT(*) > ${maxRetries} + 1 THEN ${maxRetries} + 1 ELSE COUNT(*) END
   FROM attempts a WHERE a.job_id = jobs.id AND a.revision = ${shown})`;

/**
 * The row shows its deferred revision completed, as showCompleted writes one: the runs of
 * that revision (at least the one that completed it), its completion and its start. Plain
 * SQL that SQLite and PostgreSQL read alike, for each backend's promoteNextRevision.
 */
export const SHOW_DEFERRED_COMPLETED_SET = `
  spec = next_spec, revision = next_revision, max_retries = next_max_retries, state = 'completed',
  finished_at = (SELECT c.completed_at FROM completed_revisions c WHERE c.job_id = jobs.id AND c.revision = jobs.next_revision),
  exit_code = 0, last_error = NULL, canceled_by = NULL, lease_until = NULL,
  attempts = ${SHOWN_ATTEMPTS("jobs.next_revision", "jobs.next_max_retries")},
  ${SHOWN_REVISION_REPORTS("jobs.next_revision")},
  started_at = (SELECT a.started_at FROM attempts a
                WHERE a.job_id = jobs.id AND a.revision = jobs.next_revision AND a.exit_code = 0
                ORDER BY a.token DESC LIMIT 1),
  next_spec = NULL, next_revision = NULL, next_max_retries = NULL`;
