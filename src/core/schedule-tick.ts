/**
 * What firing a schedule does, decided once for every store backend: given the occurrences
 * a schedule owes now (after catch-up, oldest first) and the states of its occurrences that
 * already exist, the overlap policy yields a list of actions. The store reads those inputs
 * and carries the actions out inside the transaction that moves the schedule's `next_at`,
 * so SQLite and PostgreSQL can never decide differently.
 *
 * The policies mean what users of cron and Kubernetes CronJobs expect, also on catch-up:
 * - `allow` queues every owed occurrence;
 * - `skip` (the default) starts no occurrence while an earlier one is unfinished: with none
 *   unfinished, the oldest owed occurrence is queued and the later ones are skipped, since
 *   each would find that one still waiting;
 * - `replace` lets a new occurrence cancel every earlier one that has not finished: only the
 *   newest owed occurrence is queued, the older owed ones are never queued at all.
 */

import type { OverlapPolicy } from "./flow-spec.ts";
import type { JobState } from "./job.ts";

/** States in which an occurrence has not finished, so it overlaps a newer one. */
export const UNFINISHED_OCCURRENCE_STATES: readonly JobState[] = ["pending", "failed", "processing"];

export interface ExistingOccurrence {
  id: string;
  state: JobState;
}

export type OccurrenceAction =
  | { kind: "enqueue"; id: string }
  /** An earlier, unfinished occurrence that a newer one replaces; a running one loses its lease. */
  | { kind: "cancel"; id: string }
  | {
      kind: "skip";
      id: string;
      /**
       * `overlap`: an earlier occurrence is unfinished (skip); `superseded`: a newer owed
       * occurrence replaces it before it was queued (replace); `exists`: a job with this
       * id is already in the queue.
       */
      reason: "overlap" | "superseded" | "exists";
    };

export interface OccurrenceDecisionInput {
  overlap: OverlapPolicy;
  /** Ids of the occurrences owed now, oldest first. */
  owed: readonly string[];
  /**
   * The schedule's unfinished occurrences, and any job whose id is one of `owed` (in any
   * state, whichever schedule or user made it).
   */
  existing: readonly ExistingOccurrence[];
}

/** Cancels come first, then one entry per owed occurrence in the order given. */
export function decideOccurrences(input: OccurrenceDecisionInput): OccurrenceAction[] {
  const present = new Set(input.existing.map((job) => job.id));
  const unfinished = input.existing
    .filter((job) => UNFINISHED_OCCURRENCE_STATES.includes(job.state))
    .map((job) => job.id);
  const fresh = input.owed.filter((id) => !present.has(id));
  const queued = new Set(chooseQueued(input.overlap, fresh, unfinished));
  const actions: OccurrenceAction[] = [];
  // Only a newly queued occurrence replaces anything; an owed one that already exists does not.
  if (input.overlap === "replace" && queued.size > 0) {
    for (const id of unfinished) actions.push({ kind: "cancel", id });
  }
  for (const id of input.owed) {
    if (present.has(id)) actions.push({ kind: "skip", id, reason: "exists" });
    else if (queued.has(id)) actions.push({ kind: "enqueue", id });
    else actions.push({ kind: "skip", id, reason: input.overlap === "replace" ? "superseded" : "overlap" });
  }
  return actions;
}

function chooseQueued(overlap: OverlapPolicy, fresh: string[], unfinished: string[]): string[] {
  if (overlap === "allow") return fresh;
  if (overlap === "replace") return fresh.slice(-1);
  return unfinished.length > 0 ? [] : fresh.slice(0, 1);
}

/** The decision in the shape `scheduleFire` reports it. */
export function summarizeOccurrences(actions: readonly OccurrenceAction[]): {
  enqueued: string[];
  skipped: string[];
  replaced: string[];
} {
  return {
    enqueued: actions.filter((action) => action.kind === "enqueue").map((action) => action.id),
    skipped: actions.filter((action) => action.kind === "skip").map((action) => action.id),
    replaced: actions.filter((action) => action.kind === "cancel").map((action) => action.id),
  };
}
