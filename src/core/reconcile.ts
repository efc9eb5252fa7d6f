/**
 * The reconcile table of DESIGN.md ("Jobfiles"), decided in one place: given what the store
 * holds for an id and what a jobs folder declares for it, which single action is taken.
 * The planner calls it to print the plan; each store backend calls it again on the rows it
 * re-read inside its apply transaction, so a plan and its apply can only differ when a
 * worker or another sync changed the row in between, and then the apply is the one right.
 *
 * What must hold: the store's memory of completed revisions, not the job's state, decides
 * whether a revision runs. A revision this id ever completed is never queued again by a
 * sync, not even after a purge deleted the row (the memory outlives it); `queuectl rerun`
 * is the one way to run it again on purpose.
 */

import type { JobState } from "./job.ts";
import type { JobSpec } from "./spec.ts";

export interface CompletedRevision {
  revision: string;
  /** When it completed (ms); null when it completed before completion dates were recorded. */
  at: number | null;
}

/** A completed revision of `id`, as the store keeps them whether or not the id still has a row. */
export interface CompletedRevisionOf extends CompletedRevision {
  id: string;
}

/** Each id's completed revisions, for decideDeclaration's `history`. */
export function historyById(entries: CompletedRevisionOf[]): Map<string, CompletedRevision[]> {
  const byId = new Map<string, CompletedRevision[]>();
  for (const { id, revision, at } of entries) {
    const list = byId.get(id);
    if (list) list.push({ revision, at });
    else byId.set(id, [{ revision, at }]);
  }
  return byId;
}

/** What the store holds for one id, as the rules read it. */
export interface JobFacts {
  id: string;
  state: JobState;
  revision: string;
  /** The spec of `revision`, for showing what a change changes. */
  spec: JobSpec;
  /** A revision queued behind the running attempt, or null. */
  nextRevision: string | null;
  /** The jobfile that declared it, or null for a job enqueued by hand. */
  source: string | null;
  /** Whether a jobfile still declares it (false once its file was removed). */
  declared: boolean;
  /** The jobs folder (real path) that declared it; null for ad hoc jobs and rows declared before owners were kept. */
  owner: string | null;
  /** Every revision this id completed. */
  completed: CompletedRevision[];
  /** Jobs still canceled because this one ended badly or went away (their `canceled_by`). */
  canceledDependents: string[];
  /**
   * Canceled because its jobfile was removed, not by the user or a failed dependency: such a
   * job, and only such a job, is queued again when the same revision is declared again.
   */
  canceledByRemoval: boolean;
}

/** What a folder declares for an id. */
export interface WantedDeclaration {
  revision: string;
  source: string;
  /** The declaring folder's real path. */
  owner: string;
  /** Another folder whose job this declaration may take over (see ownership.ts), or null. */
  adoptFrom: string | null;
}

/**
 * create: a new row. replace: the spec is replaced, attempts reset, the job waits to run.
 * defer: queued to run after the running attempt. dropDeferred: the revision queued behind the
 * running attempt is dropped. showCompleted: the waiting run is dropped and the job shows a
 * revision it already completed (an id whose row a purge deleted after its file went away
 * gets the row back, completed). skipCompleted: the job is running another revision and the
 * declared one already completed, so the attempt finishes and nothing is queued after it (a
 * revision queued behind it is dropped): the completed one is deferred behind the run, and
 * takes the row shown completed once the run ends, however it ends. redeclare: only who declares it changes (file, folder, or
 * "declared again"). cancel: a job that had not started is canceled, its file being gone.
 * forget: its file is gone; a running attempt finishes and finished work keeps its history.
 */
export type JobfileAction =
  | "create"
  | "replace"
  | "defer"
  | "dropDeferred"
  | "showCompleted"
  | "skipCompleted"
  | "redeclare"
  | "cancel"
  | "forget";

export const JOBFILE_ACTIONS: readonly JobfileAction[] = [
  "create",
  "replace",
  "defer",
  "dropDeferred",
  "showCompleted",
  "skipCompleted",
  "redeclare",
  "cancel",
  "forget",
];

/** An empty list of ids per action, to fill in plan or apply order. */
export function idsByAction(): Record<JobfileAction, string[]> {
  return Object.fromEntries(JOBFILE_ACTIONS.map((action) => [action, [] as string[]])) as Record<
    JobfileAction,
    string[]
  >;
}

export type Decision =
  | { action: "nothing" }
  /** The id belongs to a job enqueued by hand, or to another folder; never written. */
  | { action: "refuse"; owner: string | null }
  | {
      action: Exclude<JobfileAction, "cancel" | "forget">;
      /** The completed revision shown again (showCompleted only). */
      completed: CompletedRevision | null;
      /** Jobs canceled because of this one, armed again now that it is queued or completed. */
      rearms: string[];
    };

/** The folder an existing row belongs to, for messages and adoption: its owner, else its file. */
export function ownerKey(facts: Pick<JobFacts, "owner" | "source">): string | null {
  return facts.owner ?? facts.source;
}

/** Whether `root` owns the row; rows from before owners were kept belong to the folder holding their file. */
export function isOwnedBy(facts: Pick<JobFacts, "owner" | "source">, root: string): boolean {
  if (facts.owner !== null) return facts.owner === root;
  return facts.source?.startsWith(root.endsWith("/") ? root : `${root}/`) ?? false;
}

function act(
  action: Exclude<JobfileAction, "cancel" | "forget">,
  facts: JobFacts | null,
  completed: CompletedRevision | null = null,
): Decision {
  const queuedAgain = action === "replace" || action === "showCompleted";
  return { action, completed, rearms: queuedAgain ? (facts?.canceledDependents ?? []) : [] };
}

/**
 * `history`: the revisions the id completed, read only for an id without a row (the row's
 * own `completed` says it otherwise); a purge deletes finished rows and keeps this memory.
 */
export function decideDeclaration(
  facts: JobFacts | null,
  wanted: WantedDeclaration,
  history: CompletedRevision[] = [],
): Decision {
  if (!facts) {
    const completed = history.find((entry) => entry.revision === wanted.revision) ?? null;
    return completed ? act("showCompleted", null, completed) : act("create", null);
  }
  if (facts.source === null) return { action: "refuse", owner: null };
  if (!isOwnedBy(facts, wanted.owner) && ownerKey(facts) !== wanted.adoptFrom) {
    return { action: "refuse", owner: ownerKey(facts) };
  }
  const completed = facts.completed.find((entry) => entry.revision === wanted.revision) ?? null;
  const same = facts.revision === wanted.revision;
  const moved = !facts.declared || facts.source !== wanted.source || facts.owner !== wanted.owner;
  const keepOrRedeclare = moved ? act("redeclare", facts) : { action: "nothing" as const };

  if (facts.state === "processing") {
    // The running attempt always finishes under the spec it started with.
    if (same) return facts.nextRevision !== null ? act("dropDeferred", facts) : keepOrRedeclare;
    // Said by every sync while it runs: the file and the running row differ until it ends.
    if (completed) return act("skipCompleted", facts, completed);
    if (facts.nextRevision === wanted.revision) return keepOrRedeclare;
    return act("defer", facts);
  }
  if (same) {
    // A job canceled because its file was removed, now declared again: it is restored. One
    // the user canceled or killed stays canceled: a branch switched away and back is no order.
    if (!facts.declared && facts.state === "canceled" && facts.canceledByRemoval) {
      return completed ? act("showCompleted", facts, completed) : act("replace", facts);
    }
    return keepOrRedeclare;
  }
  if (completed) return act("showCompleted", facts, completed);
  return act("replace", facts);
}

/** The folder no longer declares the id (its file was removed, or no longer lists the job). */
export function decideRemoval(
  facts: Pick<JobFacts, "source" | "declared" | "state">,
): "cancel" | "forget" | "nothing" {
  if (facts.source === null || !facts.declared) return "nothing";
  return facts.state === "pending" || facts.state === "failed" ? "cancel" : "forget";
}
