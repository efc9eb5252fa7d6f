/**
 * The reconciliation plan: a pure comparison of what the folder declares (desired) with
 * what the store holds (actual). No I/O and no clock. Each id's action comes from
 * src/core/reconcile.ts and who may declare it from src/core/ownership.ts, the same
 * functions the store calls again inside its apply transaction, so the plan says what the
 * apply does: decided actions, never "queued unless…".
 *
 * What must hold: a file in error, unreadable or still being written keeps every job it
 * declared exactly as it was; it is never read as "these jobs were removed".
 */

import { relative, sep } from "node:path";
import type { DependencyEdge } from "../core/dependencies.ts";
import { type Adoption, decideOwnership, type OwnedFacts, type Ownership } from "../core/ownership.ts";
import {
  type CompletedRevision,
  decideDeclaration,
  decideRemoval,
  isOwnedBy,
  type JobFacts,
  type JobfileAction,
  ownerKey,
} from "../core/reconcile.ts";
import type { JobSpec } from "../core/spec.ts";
import type { DeclaredChange, DeclaredJob, JobfileChanges } from "../store/store.ts";
import type { DesiredJob, DesiredState } from "./desired.ts";
import { type FieldChange, fieldChanges } from "./field-changes.ts";
import { dependencyConflicts, settleDependents } from "./plan-dependencies.ts";
import {
  type DeclaredSchedule,
  isScheduled,
  type KindReason,
  occurrenceIdConflicts,
  planSchedules,
  type SchedulePlan,
  scheduleConflicts,
  scheduleOwnerFacts,
} from "./plan-schedules.ts";
import { duplicateIdProblems, type JobfileProblem } from "./problem.ts";

export interface ActualState {
  /** Every job that came from a jobfile (`store.declaredList()`). */
  declared: DeclaredJob[];
  /** The store's facts for the desired ids, the ids they wait for and the removal candidates. */
  existing: JobFacts[];
  /** Every schedule, from jobfiles or `enqueue`; its spec, when given, shows what an update changes. */
  schedules: (DeclaredSchedule & { spec?: JobSpec })[];
  /**
   * Every schedule id the store holds, those a watcher's scoped plan leaves out of
   * `schedules` too: a schedule's occurrence ids are its own whichever file declares them.
   * Default: the ids of `schedules`.
   */
  allScheduleIds?: readonly string[];
  /** Owners (folders, or files for rows without one) known to be gone from disk. */
  missingOwners?: ReadonlySet<string>;
  /** Completed revisions of wanted ids that have no row (a purge deleted it). Default: none. */
  history?: ReadonlyMap<string, CompletedRevision[]>;
  /**
   * Stored `after` edges downstream of the folder's waiting jobs (`store.jobDependentEdges`):
   * a new `after` may close a cycle through jobs queued by hand or by another folder.
   * Default: none.
   */
  dependents?: readonly DependencyEdge[];
}

export interface PlanOptions {
  /** `sync --adopt`: take over ids another live folder declares. Default false. */
  adopt?: boolean;
  /** What this named folder was synced from before it was re-pointed (see ownership.ts). Default none. */
  supersedes?: string | null;
}

export interface PlannedJob {
  id: string;
  action: JobfileAction;
  /** The declaration; null for cancel and forget. */
  job: DesiredJob | null;
  /** The row as stored; null for create. */
  actual: JobFacts | null;
  /** The declaring file, or for cancel and forget the removed one, relative to the folder. */
  file: string;
  /** Another folder's job this declaration takes over, and why it may. */
  adopt: Adoption | null;
  /**
   * cancel and forget: why the job is no longer declared (`jobfileRemoved`, `noLongerDeclared` or
   * `nowSchedule`). A declaration: `nowJob` when it replaces a schedule of its id, else null.
   */
  reason: KindReason | null;
  /** showCompleted: the completed revision the job shows again. */
  completed: CompletedRevision | null;
  /** Dependents armed again because this job is declared again (see settleDependents). */
  rearms: string[];
  /**
   * create and replace: why the job is canceled the moment it is queued (a job it waits for
   * ended dead or canceled, and this plan does not queue that one again); else null or absent.
   */
  canceledAtOnce?: string | null;
  /** What the stored spec becomes, field by field (empty for create, cancel and forget). */
  fields: FieldChange[];
  /** cancel: the jobs waiting on it, canceled with it (filled in by sync.ts from the store). */
  cancels?: string[];
}

export interface Plan {
  /** Every decided change, in folder order; then the removals. */
  changes: PlannedJob[];
  unchanged: DesiredJob[];
  /** Jobs with a `schedule`, which become schedules rather than jobs. */
  schedules: SchedulePlan;
  /** What each schedule update changes, field by field, by id (absent: nothing known). */
  scheduleFields?: Map<string, FieldChange[]>;
  errors: JobfileProblem[];
}

function relativeFile(root: string, source: string): string | null {
  const prefix = root.endsWith(sep) ? root : root + sep;
  if (!source.startsWith(prefix)) return null;
  // Sources are stored as the folder's real path joined with the file's: slicing is enough
  // on POSIX, where path.relative cost a tenth of a 10,000-file plan.
  if (sep === "/" && !source.includes("/./") && !source.includes("/../")) return source.slice(prefix.length);
  return relative(root, source).split(sep).join("/");
}

function isBlocked(file: string, blocked: readonly string[]): boolean {
  return blocked.some((entry) => entry === file || (entry.endsWith("/") && file.startsWith(entry)));
}

function idProblem(job: DesiredJob, message: string, hint: string): JobfileProblem {
  return { file: job.file, line: job.line, column: job.column, field: "id", message, hint };
}

function addProblem(conflicts: Map<string, JobfileProblem[]>, problem: JobfileProblem): void {
  conflicts.set(problem.file, [...(conflicts.get(problem.file) ?? []), problem]);
}

function foreignProblem(job: DesiredJob, owner: string, root: string): JobfileProblem {
  return idProblem(
    job,
    `id "${job.spec.id}" belongs to the jobs folder ${owner}, not to ${root}`,
    "give one folder a namespace (`namespace: NAME` in its .queuectl.yaml), remove the job from the other folder, or take it over with `queuectl sync --adopt`",
  );
}

interface Conflicts {
  /** By file: none of its jobs is applied. */
  conflicts: Map<string, JobfileProblem[]>;
  /** Schedules of other folders whose ids this folder's jobs may take over (ownership.ts). */
  adoptedSchedules: Map<string, Adoption>;
}

/** Files that declare an id another declaration also claims; none of their jobs is applied. */
function conflictingFiles(
  desired: DesiredState,
  facts: ReadonlyMap<string, JobFacts>,
  schedules: readonly DeclaredSchedule[],
  ownershipOf: (stored: OwnedFacts | null) => Ownership,
): Conflicts {
  const conflicts = new Map<string, JobfileProblem[]>();
  const adoptedSchedules = new Map<string, Adoption>();
  const schedulesById = new Map(
    schedules.flatMap((schedule) => (schedule.source === null ? [] : [[schedule.id, schedule] as const])),
  );
  const places = desired.jobs.map((job) => ({
    id: job.spec.id,
    file: job.file,
    line: job.line,
    column: job.column,
  }));
  for (const problem of duplicateIdProblems(places)) addProblem(conflicts, problem);
  // A file in error keeps the jobs the store holds from it, whether or not its broken text
  // still names them: no other file takes one over meanwhile. (A file only being saved or
  // removed is no error: a move done as copy + delete must go through.)
  // A folder that could not be read is in error as `sub/`: every file under it is.
  const inError = desired.problems.map((problem) => problem.file);
  const heldFile = (stored: OwnedFacts | undefined) =>
    stored?.source && stored.declared && isOwnedBy(stored, desired.root)
      ? relativeFile(desired.root, stored.source)
      : null;
  for (const job of desired.jobs) {
    const schedule = schedulesById.get(job.spec.id);
    const file = heldFile(facts.get(job.spec.id)) ?? heldFile(schedule && scheduleOwnerFacts(schedule));
    if (file === null || file === job.file || !isBlocked(file, inError) || !isBlocked(file, desired.blocked))
      continue;
    addProblem(
      conflicts,
      idProblem(
        job,
        `id "${job.spec.id}" is held by ${file}, which is in error`,
        "a file in error keeps its jobs; fix that file, then declare the id in one file only",
      ),
    );
  }
  for (const job of desired.jobs) {
    const ownership = ownershipOf(facts.get(job.spec.id) ?? null);
    if (ownership.kind === "adHoc") {
      addProblem(
        conflicts,
        idProblem(
          job,
          `id "${job.spec.id}" is already used by a job enqueued by hand`,
          "give this job another `id`; a jobfile never takes over an ad hoc job",
        ),
      );
    } else if (ownership.kind === "foreign") {
      addProblem(conflicts, foreignProblem(job, ownership.owner, desired.root));
      continue;
    }
    // A schedule's id is owned as a job's is, whether this folder declares it as a job or a schedule.
    const schedule = schedulesById.get(job.spec.id);
    if (ownership.kind === "adHoc" || !schedule) continue;
    const scheduleOwnership = ownershipOf(scheduleOwnerFacts(schedule));
    if (scheduleOwnership.kind === "foreign")
      addProblem(conflicts, foreignProblem(job, scheduleOwnership.owner, desired.root));
    else if (scheduleOwnership.kind === "adopt") {
      const { from, reason } = scheduleOwnership;
      adoptedSchedules.set(job.spec.id, { from, reason });
    }
  }
  return { conflicts, adoptedSchedules };
}

function declarationOf(job: DesiredJob, root: string, adoptFrom: string | null): DeclaredChange {
  const { spec, revision, maxRetries, nextRunAt, source } = job;
  return { spec, revision, maxRetries, nextRunAt, source, owner: root, adoptFrom };
}

export function plan(desired: DesiredState, actual: ActualState, options: PlanOptions = {}): Plan {
  const adopt = options.adopt ?? false;
  const supersedes = options.supersedes ?? null;
  const facts = new Map(actual.existing.map((entry) => [entry.id, entry]));
  const ownershipOf = (stored: OwnedFacts | null) => {
    const owner = stored ? ownerKey(stored) : null;
    const ownerExists = owner === null || !(actual.missingOwners?.has(owner) ?? false);
    return decideOwnership(stored, { root: desired.root, ownerExists, adopt, supersedes });
  };
  const { conflicts, adoptedSchedules } = conflictingFiles(desired, facts, actual.schedules, ownershipOf);
  const merge = (more: Map<string, JobfileProblem[]>) => {
    for (const problems of more.values()) for (const problem of problems) addProblem(conflicts, problem);
  };
  merge(scheduleConflicts(desired.jobs, actual.schedules));
  merge(
    occurrenceIdConflicts(
      desired.jobs,
      actual.allScheduleIds ?? actual.schedules.map((schedule) => schedule.id),
    ),
  );
  // A schedule is not a job, so `after` can never name one.
  const unconflicted = desired.jobs.filter((job) => !conflicts.has(job.file) && !isScheduled(job));
  merge(dependencyConflicts(unconflicted, new Set(facts.keys()), actual.dependents ?? []));
  const blocked = [...desired.blocked, ...conflicts.keys()];
  const blockedIds = new Set(desired.blockedIds);
  const jobs: DesiredJob[] = [];
  for (const job of desired.jobs) {
    if (conflicts.has(job.file)) blockedIds.add(job.spec.id);
    else jobs.push(job);
  }

  const result: Plan = {
    changes: [],
    unchanged: [],
    schedules: { creates: [], updates: [], removals: [], unchanged: [] },
    errors: [...desired.problems, ...[...conflicts.values()].flat()].sort(
      (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column,
    ),
  };
  result.schedules = planSchedules(
    jobs,
    actual.schedules,
    blockedIds,
    (source) => {
      // The schedules of what a re-pointed folder was before are its own now, as its jobs are.
      const file =
        relativeFile(desired.root, source) ?? (supersedes ? relativeFile(supersedes, source) : null);
      return file === null || isBlocked(file, blocked) ? null : file;
    },
    adoptedSchedules,
  );
  const replacedSchedules = new Set(
    result.schedules.removals.filter((removal) => removal.reason === "nowJob").map((r) => r.actual.id),
  );
  const nowScheduled = new Set(jobs.filter(isScheduled).map((job) => job.spec.id));
  const wanted = new Set<string>();
  for (const job of jobs.filter((candidate) => !isScheduled(candidate))) {
    const id = job.spec.id;
    wanted.add(id);
    const stored = facts.get(id) ?? null;
    const ownership = ownershipOf(stored);
    const adoption = ownership.kind === "adopt" ? { from: ownership.from, reason: ownership.reason } : null;
    const decision = decideDeclaration(
      stored,
      declarationOf(job, desired.root, adoption?.from ?? null),
      actual.history?.get(id),
    );
    if (decision.action === "refuse") continue; // reported by conflictingFiles
    if (decision.action === "nothing") {
      result.unchanged.push(job);
      continue;
    }
    result.changes.push({
      id,
      action: decision.action,
      job,
      actual: stored,
      file: job.file,
      adopt: adoption,
      reason: replacedSchedules.has(id) ? "nowJob" : null,
      completed: decision.completed,
      rearms: decision.rearms,
      fields: stored && decision.action !== "create" ? fieldChanges(stored.spec, job.spec) : [],
    });
  }

  const declaringFiles = new Set(desired.files ?? desired.jobs.map((job) => job.file));
  for (const row of actual.declared) {
    if (wanted.has(row.id) || blockedIds.has(row.id)) continue;
    // The jobs of what this folder was before it was re-pointed are its own now: those the
    // new target does not declare are removed from it, as a deleted file's would be.
    const relinked = supersedes !== null && !isOwnedBy(row, desired.root) && isOwnedBy(row, supersedes);
    if (!relinked && !isOwnedBy(row, desired.root)) continue;
    const file = relativeFile(relinked ? (supersedes as string) : desired.root, row.source);
    // A file in error at the same place in the new target keeps its job, as in any folder.
    if (file === null || isBlocked(file, blocked)) continue;
    const action = decideRemoval(row);
    if (action === "nothing") continue;
    result.changes.push({
      id: row.id,
      action,
      job: null,
      actual: facts.get(row.id) ?? null,
      file,
      adopt: relinked ? { from: supersedes as string, reason: "relinked" } : null,
      reason: nowScheduled.has(row.id)
        ? "nowSchedule"
        : declaringFiles.has(file)
          ? "noLongerDeclared"
          : "jobfileRemoved",
      completed: null,
      rearms: [],
      fields: [],
    });
  }
  const storedSchedules = new Map(actual.schedules.map((schedule) => [schedule.id, schedule.spec]));
  result.scheduleFields = new Map(
    result.schedules.updates.map((job) => {
      const stored = storedSchedules.get(job.spec.id);
      return [job.spec.id, stored ? fieldChanges(stored, job.spec) : []];
    }),
  );
  settleDependents(result.changes, facts);
  return result;
}

/** What the store applies; it decides each action again on the rows it re-reads. */
export function planChanges(planned: Plan, root: string): JobfileChanges {
  return {
    declarations: planned.changes.flatMap((change) =>
      change.job ? [declarationOf(change.job, root, change.adopt?.from ?? null)] : [],
    ),
    removals: planned.changes
      .filter((change) => change.job === null)
      // A removal carried out for the folder this one was before it was re-pointed names it.
      .map((change) => ({ id: change.id, owner: change.adopt?.from ?? root })),
  };
}

/** The planned changes of one action. */
export function plannedOf(planned: Plan, action: JobfileAction): PlannedJob[] {
  return planned.changes.filter((change) => change.action === action);
}

export function planHasChanges(planned: Plan): boolean {
  const { schedules } = planned;
  return (
    planned.changes.length + schedules.creates.length + schedules.updates.length + schedules.removals.length >
    0
  );
}
