/**
 * The reconciliation plan: a pure comparison of what the folder declares (desired) with
 * what the store last applied (actual). No I/O and no clock, so each row of DESIGN.md's
 * table is decided here, and how it is applied per job state is the store's
 * `jobfileApply`, which re-reads every row inside its transaction.
 *
 * What must hold: a file in error, unreadable or still being written keeps every job it
 * declared exactly as it was; it is never read as "these jobs were removed".
 */

import { relative, sep } from "node:path";
import type { DeclaredJob, JobDeclaration, JobfileChanges, NewJob } from "../store/store.ts";
import type { Place } from "./parse.ts";
import { dependencyConflicts } from "./plan-dependencies.ts";
import {
  type DeclaredSchedule,
  isScheduled,
  planSchedules,
  type SchedulePlan,
  scheduleConflicts,
} from "./plan-schedules.ts";
import { type JobfileProblem, problemPlace } from "./problem.ts";

/** A valid job from a jobfile, with its place for messages. */
export interface DesiredJob extends NewJob {
  /** The jobfile's path under the folder's real path; stored as the job's `source`. */
  source: string;
  /** The jobfile relative to the folder, for messages. */
  file: string;
  /** Where its id is declared. */
  line: number;
  column: number;
  /** Where each field is written, when known. */
  fields?: Record<string, Place>;
}

export interface DesiredState {
  /** The folder's real path. Only jobs whose source lies under it can be removed by this plan. */
  root: string;
  jobs: DesiredJob[];
  problems: JobfileProblem[];
  /** Relative files, or folders ending in `/`, whose jobs stay as they are. */
  blocked: string[];
  /** Ids that blocked files declare, as far as they could be read. */
  blockedIds: string[];
}

export interface ActualState {
  /** Every job that came from a jobfile (`store.declaredList()`). */
  declared: DeclaredJob[];
  /** How the desired ids, and the ids they wait for, exist in the store (`store.jobDeclarations()`). */
  existing: JobDeclaration[];
  /** Every schedule, from jobfiles or `enqueue`. */
  schedules: DeclaredSchedule[];
}

/**
 * changed: a new revision. restored: its file had been removed. moved: another file now
 * declares it. reverted: the file went back to the running revision, so the one queued
 * behind the running attempt is dropped.
 */
export type UpdateReason = "changed" | "restored" | "moved" | "reverted";

export interface PlannedUpdate {
  job: DesiredJob;
  actual: DeclaredJob;
  reason: UpdateReason;
}

export interface PlannedCancel {
  actual: DeclaredJob;
  /** The removed declaration's file, relative to the folder. */
  file: string;
}

export interface Plan {
  creates: DesiredJob[];
  updates: PlannedUpdate[];
  /** Declarations whose file no longer declares them: not-started jobs get canceled. */
  cancels: PlannedCancel[];
  unchanged: DesiredJob[];
  /** Jobs with a `schedule`, which become schedules rather than jobs. */
  schedules: SchedulePlan;
  errors: JobfileProblem[];
}

function relativeFile(root: string, source: string): string | null {
  if (!source.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  return relative(root, source).split(sep).join("/");
}

function isBlocked(file: string, blocked: readonly string[]): boolean {
  return blocked.some((entry) => entry === file || (entry.endsWith("/") && file.startsWith(entry)));
}

function idProblem(job: DesiredJob, message: string, hint: string): JobfileProblem {
  return { file: job.file, line: job.line, column: job.column, field: "id", message, hint };
}

/** Files that declare an id another declaration also claims; none of their jobs is applied. */
function conflictingFiles(desired: DesiredState, actual: ActualState): Map<string, JobfileProblem[]> {
  const conflicts = new Map<string, JobfileProblem[]>();
  const add = (job: DesiredJob, problem: JobfileProblem) => {
    conflicts.set(job.file, [...(conflicts.get(job.file) ?? []), problem]);
  };
  const byId = new Map<string, DesiredJob[]>();
  for (const job of desired.jobs) byId.set(job.spec.id, [...(byId.get(job.spec.id) ?? []), job]);
  for (const [id, jobs] of byId) {
    if (jobs.length < 2) continue;
    for (const job of jobs) {
      const others = jobs
        .filter((other) => other !== job)
        .map((other) => problemPlace(idProblem(other, "", "")));
      add(
        job,
        idProblem(
          job,
          `id "${id}" is also declared at ${others.join(", ")}`,
          "ids must be unique across the folder; none of these files is applied until one is renamed",
        ),
      );
    }
  }
  const adHoc = new Set(actual.existing.filter((entry) => entry.source === null).map((entry) => entry.id));
  for (const job of desired.jobs) {
    if (!adHoc.has(job.spec.id)) continue;
    add(
      job,
      idProblem(
        job,
        `id "${job.spec.id}" is already used by a job enqueued by hand`,
        "give this job another `id`; a jobfile never takes over an ad hoc job",
      ),
    );
  }
  return conflicts;
}

/** Why a declared job must be sent to the store again, or null when it is up to date. */
function updateReason(job: DesiredJob, current: DeclaredJob, queued: string | null): UpdateReason | null {
  if ((queued ?? current.revision) !== job.revision) {
    return current.revision === job.revision ? "reverted" : "changed";
  }
  if (!current.declared) return "restored";
  if (current.source !== job.source) return "moved";
  return null;
}

export function plan(desired: DesiredState, actual: ActualState): Plan {
  const conflicts = conflictingFiles(desired, actual);
  const merge = (more: Map<string, JobfileProblem[]>) => {
    for (const [file, problems] of more) conflicts.set(file, [...(conflicts.get(file) ?? []), ...problems]);
  };
  merge(scheduleConflicts(desired.jobs, actual.schedules));
  const existingIds = new Set(actual.existing.map((entry) => entry.id));
  // A schedule is not a job, so `after` can never name one.
  const unconflicted = desired.jobs.filter((job) => !conflicts.has(job.file) && !isScheduled(job));
  merge(dependencyConflicts(unconflicted, existingIds));
  const blocked = [...desired.blocked, ...conflicts.keys()];
  const blockedIds = new Set(desired.blockedIds);
  const jobs: DesiredJob[] = [];
  for (const job of desired.jobs) {
    if (conflicts.has(job.file)) blockedIds.add(job.spec.id);
    else jobs.push(job);
  }

  const result: Plan = {
    creates: [],
    updates: [],
    cancels: [],
    unchanged: [],
    schedules: { creates: [], updates: [], removals: [], unchanged: [] },
    errors: [...desired.problems, ...[...conflicts.values()].flat()].sort(
      (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column,
    ),
  };
  const declaredById = new Map(actual.declared.map((job) => [job.id, job]));
  const nextRevision = new Map(actual.existing.map((entry) => [entry.id, entry.nextRevision]));
  const wanted = new Set<string>();
  for (const job of jobs.filter((candidate) => !isScheduled(candidate))) {
    const id = job.spec.id;
    wanted.add(id);
    const current = declaredById.get(id);
    if (!current) {
      result.creates.push(job);
      continue;
    }
    const reason = updateReason(job, current, nextRevision.get(id) ?? null);
    if (reason) result.updates.push({ job, actual: current, reason });
    else result.unchanged.push(job);
  }

  for (const job of actual.declared) {
    if (!job.declared || wanted.has(job.id) || blockedIds.has(job.id)) continue;
    const file = relativeFile(desired.root, job.source);
    if (file === null || isBlocked(file, blocked)) continue;
    result.cancels.push({ actual: job, file });
  }
  result.schedules = planSchedules(jobs.filter(isScheduled), actual.schedules, blockedIds, (source) => {
    const file = relativeFile(desired.root, source);
    return file === null || isBlocked(file, blocked) ? null : file;
  });
  return result;
}

/** What the store applies; unchanged jobs and errors are not sent. */
export function planChanges(planned: Plan): JobfileChanges {
  const toNew = (job: DesiredJob): NewJob => ({
    spec: job.spec,
    revision: job.revision,
    maxRetries: job.maxRetries,
    nextRunAt: job.nextRunAt,
    source: job.source,
  });
  return {
    creates: planned.creates.map(toNew),
    updates: planned.updates.map((update) => toNew(update.job)),
    removals: planned.cancels.map((cancel) => cancel.actual.id),
  };
}

export function planHasChanges(planned: Plan): boolean {
  const { schedules } = planned;
  return (
    planned.creates.length +
      planned.updates.length +
      planned.cancels.length +
      schedules.creates.length +
      schedules.updates.length +
      schedules.removals.length >
    0
  );
}
