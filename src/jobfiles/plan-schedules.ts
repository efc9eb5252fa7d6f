/**
 * Jobfile jobs with a `schedule` become schedules, not jobs: the worker's ticker turns each
 * occurrence into a job of its own. This plans them like jobs, pure and without a clock:
 * created when new, updated when their revision or file changed, removed (future
 * occurrences stop, queued ones stay) when their file no longer declares them.
 */

import { describeScheduleClaim, scheduleClaim } from "../core/occurrence-id.ts";
import type { Adoption, OwnedFacts } from "../core/ownership.ts";
import type { DesiredJob } from "./desired.ts";
import type { JobfileProblem } from "./problem.ts";

/** A schedule as the store holds it; `source` null means it was made with `enqueue`. */
export interface DeclaredSchedule {
  id: string;
  source: string | null;
  revision: string;
  /**
   * The jobs folder (real path) its file lies in, as the store's sync records know it: a
   * schedule keeps no owner of its own. Null or absent when unknown; its file then stands for it.
   */
  owner?: string | null;
}

/**
 * Why a declaration stops being what it was, when its action alone would mislead:
 * `jobfileRemoved`, no file of the folder declares the id any more and its file is gone;
 * `noLongerDeclared`, likewise but its file is still there (an entry or a matrix value was
 * taken out); `nowSchedule`, a job's id is declared as a schedule now; `nowJob`, a schedule's
 * id is declared as a plain job now.
 */
export type KindReason = "jobfileRemoved" | "noLongerDeclared" | "nowSchedule" | "nowJob";

export interface ScheduleRemoval {
  actual: DeclaredSchedule;
  file: string;
  reason: Extract<KindReason, "jobfileRemoved" | "nowJob">;
  /** Another folder's schedule whose id a plain job of this folder takes over. */
  adopt: Adoption | null;
}

export interface SchedulePlan {
  creates: DesiredJob[];
  updates: DesiredJob[];
  removals: ScheduleRemoval[];
  unchanged: DesiredJob[];
}

export function isScheduled(job: DesiredJob): boolean {
  return job.spec.schedule !== undefined;
}

/** A schedule of a jobfile as ownership.ts reads a job: a stored schedule is still declared. */
export function scheduleOwnerFacts(schedule: DeclaredSchedule): OwnedFacts {
  return { owner: schedule.owner ?? null, source: schedule.source, declared: true };
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
  storedScheduleIds: Iterable<string>,
): Map<string, JobfileProblem[]> {
  const scheduleIds = new Set([...storedScheduleIds, ...jobs.filter(isScheduled).map((job) => job.spec.id)]);
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
 * `desired` holds the plan's jobs, plain and scheduled: a schedule whose id a plain job
 * declares now is removed for that reason. `removable(source)` returns the relative file of
 * a declaration this plan may remove, or null when its file lies outside the folder or is
 * blocked (in error, unreadable, settling). `adopted` holds the other folders' schedules
 * whose ids this folder may take over (ownership.ts): one a plain job takes is removed.
 */
export function planSchedules(
  desired: readonly DesiredJob[],
  actual: readonly DeclaredSchedule[],
  blockedIds: ReadonlySet<string>,
  removable: (source: string) => string | null,
  adopted: ReadonlyMap<string, Adoption> = new Map(),
): SchedulePlan {
  const plan: SchedulePlan = { creates: [], updates: [], removals: [], unchanged: [] };
  const byId = new Map(actual.map((schedule) => [schedule.id, schedule]));
  const wanted = new Set<string>();
  const plainFiles = new Map<string, string>();
  for (const job of desired) {
    if (!isScheduled(job)) {
      plainFiles.set(job.spec.id, job.file);
      continue;
    }
    wanted.add(job.spec.id);
    const current = byId.get(job.spec.id);
    if (!current) plan.creates.push(job);
    else if (current.revision !== job.revision || current.source !== job.source) plan.updates.push(job);
    else plan.unchanged.push(job);
  }
  for (const schedule of actual) {
    if (schedule.source === null || wanted.has(schedule.id) || blockedIds.has(schedule.id)) continue;
    const plainFile = plainFiles.get(schedule.id);
    const adopt = plainFile === undefined ? null : (adopted.get(schedule.id) ?? null);
    // Another folder's schedule taken over by a plain job goes with the file declaring that job.
    const file = removable(schedule.source) ?? (adopt ? (plainFile as string) : null);
    if (file === null) continue;
    const reason = plainFile === undefined ? "jobfileRemoved" : "nowJob";
    plan.removals.push({ actual: schedule, file, reason, adopt });
  }
  return plan;
}
