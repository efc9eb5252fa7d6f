/**
 * Jobfile jobs with a `schedule` become schedules, not jobs: the worker's ticker turns each
 * occurrence into a job of its own. This plans them like jobs, pure and without a clock:
 * created when new, updated when their revision or file changed, removed (future
 * occurrences stop, queued ones stay) when their file no longer declares them.
 */

import { describeScheduleClaim, scheduleClaim } from "../core/occurrence-id.ts";
import type { DesiredJob } from "./desired.ts";
import type { JobfileProblem } from "./problem.ts";

/** A schedule as the store holds it; `source` null means it was made with `enqueue`. */
export interface DeclaredSchedule {
  id: string;
  source: string | null;
  revision: string;
}

export interface SchedulePlan {
  creates: DesiredJob[];
  updates: DesiredJob[];
  removals: { actual: DeclaredSchedule; file: string }[];
  unchanged: DesiredJob[];
}

export function isScheduled(job: DesiredJob): boolean {
  return job.spec.schedule !== undefined;
}

/** Files whose plain jobs would take over the id of a schedule made with `enqueue`. */
export function scheduleConflicts(jobs: readonly DesiredJob[], schedules: readonly DeclaredSchedule[]) {
  const adHoc = new Set(
    schedules.filter((schedule) => schedule.source === null).map((schedule) => schedule.id),
  );
  const conflicts = new Map<string, JobfileProblem[]>();
  for (const job of jobs) {
    if (!adHoc.has(job.spec.id)) continue;
    const problem: JobfileProblem = {
      file: job.file,
      line: job.line,
      column: job.column,
      field: "id",
      message: `id "${job.spec.id}" is already used by a schedule made with \`enqueue\``,
      hint: "give this job another `id`, or remove that schedule with `queuectl schedule remove`",
    };
    conflicts.set(job.file, [...(conflicts.get(job.file) ?? []), problem]);
  }
  return conflicts;
}

/**
 * Files that declare an occurrence id (`<schedule id>@<instant>`) of a schedule the store
 * has or the folder declares: the ticker would take that job for the occurrence and never
 * enqueue it, so the id stays the schedule's (core/occurrence-id.ts decides).
 */
export function occurrenceIdConflicts(
  jobs: readonly DesiredJob[],
  schedules: readonly DeclaredSchedule[],
): Map<string, JobfileProblem[]> {
  const scheduleIds = new Set([
    ...schedules.map((schedule) => schedule.id),
    ...jobs.filter(isScheduled).map((job) => job.spec.id),
  ]);
  const conflicts = new Map<string, JobfileProblem[]>();
  for (const job of jobs) {
    const { id } = job.spec;
    const claim = scheduleClaim(id, (other) => other !== id && scheduleIds.has(other));
    if (!claim) continue;
    const { message, why } = describeScheduleClaim(id, claim);
    const problem: JobfileProblem = {
      file: job.file,
      line: job.line,
      column: job.column,
      field: "id",
      message,
      hint: `give this job another \`id\`; ${why}`,
    };
    conflicts.set(job.file, [...(conflicts.get(job.file) ?? []), problem]);
  }
  return conflicts;
}

/**
 * `removable(source)` returns the relative file of a declaration this plan may remove, or
 * null when its file lies outside the folder or is blocked (in error, unreadable, settling).
 */
export function planSchedules(
  desired: readonly DesiredJob[],
  actual: readonly DeclaredSchedule[],
  blockedIds: ReadonlySet<string>,
  removable: (source: string) => string | null,
): SchedulePlan {
  const plan: SchedulePlan = { creates: [], updates: [], removals: [], unchanged: [] };
  const byId = new Map(actual.map((schedule) => [schedule.id, schedule]));
  const wanted = new Set<string>();
  for (const job of desired) {
    wanted.add(job.spec.id);
    const current = byId.get(job.spec.id);
    if (!current) plan.creates.push(job);
    else if (current.revision !== job.revision || current.source !== job.source) plan.updates.push(job);
    else plan.unchanged.push(job);
  }
  for (const schedule of actual) {
    if (schedule.source === null || wanted.has(schedule.id) || blockedIds.has(schedule.id)) continue;
    const file = removable(schedule.source);
    if (file !== null) plan.removals.push({ actual: schedule, file });
  }
  return plan;
}
