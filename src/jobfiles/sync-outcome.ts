/**
 * What one sync planned and did, and the counts both of its summaries (and the folder's
 * recorded sync runs) are made of: one function counts, so the plan's numbers are what
 * `Applied:` reports.
 */

import type { CanceledAtOnce } from "../core/dependencies.ts";
import { idsByAction, type JobfileAction } from "../core/reconcile.ts";
import type { JobfileApplyResult } from "../store/store.ts";
import type { Plan } from "./plan.ts";

export interface SyncOutcome {
  /** The folder's real path. */
  root: string;
  /** The folder's namespace (from its .queuectl.yaml), or null. */
  namespace: string | null;
  fileCount: number;
  plan: Plan;
  /** What the store did; null on a dry run. */
  applied: JobfileApplyResult | null;
  /** What happened to schedules declared by jobfiles; null on a dry run. */
  appliedSchedules: ScheduleApplyResult | null;
  /** Jobs queued by this sync and canceled in the same instant: a dependency had ended dead or canceled. */
  canceledAtOnce: CanceledAtOnce[];
  /** When the first file left for later will have settled, or null when none was. */
  settlesAt: number | null;
}

export interface ScheduleApplyResult {
  created: string[];
  updated: string[];
  removed: string[];
}

/** The groups both summaries count, so that the plan's counts are what `Applied:` reports. */
export interface ChangeCounts {
  create: number;
  update: number;
  /** Rows that only record their new file or folder (a move, a re-clone): nothing runs. */
  redeclare: number;
  already_completed: number;
  cancel: number;
  forget: number;
  schedule_create: number;
  schedule_update: number;
  schedule_remove: number;
}

const GROUP: Record<JobfileAction, Exclude<keyof ChangeCounts, `schedule_${string}`>> = {
  create: "create",
  replace: "update",
  defer: "update",
  dropDeferred: "update",
  redeclare: "redeclare",
  showCompleted: "already_completed",
  skipCompleted: "already_completed",
  cancel: "cancel",
  forget: "forget",
};

function countActions(ids: Partial<Record<JobfileAction, readonly string[]>>): ChangeCounts {
  const counts: ChangeCounts = {
    create: 0,
    update: 0,
    redeclare: 0,
    already_completed: 0,
    cancel: 0,
    forget: 0,
    schedule_create: 0,
    schedule_update: 0,
    schedule_remove: 0,
  };
  for (const [action, list] of Object.entries(ids) as [JobfileAction, readonly string[]][]) {
    if (GROUP[action]) counts[GROUP[action]] += list.length;
  }
  return counts;
}

export function planCounts(outcome: SyncOutcome): ChangeCounts {
  const byAction = idsByAction();
  for (const change of outcome.plan.changes) byAction[change.action].push(change.id);
  const { schedules } = outcome.plan;
  return {
    ...countActions(byAction),
    schedule_create: schedules.creates.length,
    schedule_update: schedules.updates.length,
    schedule_remove: schedules.removals.length,
  };
}

export function appliedCounts(
  applied: JobfileApplyResult,
  schedules: ScheduleApplyResult | null,
): ChangeCounts {
  return {
    ...countActions(applied),
    schedule_create: schedules?.created.length ?? 0,
    schedule_update: schedules?.updated.length ?? 0,
    schedule_remove: schedules?.removed.length ?? 0,
  };
}
