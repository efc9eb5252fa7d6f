/**
 * One reconciliation of a jobs folder into the store: scan, read, plan, apply. `queuectl
 * sync` runs it once; the watcher runs it after every burst of file events and on a timer.
 * Applying is one store transaction that re-reads every row, so concurrent syncs of one
 * folder (two watchers, a watcher and a git hook) never queue a declaration twice.
 */

import { realpathSync } from "node:fs";
import type { CanceledAtOnce } from "../core/dependencies.ts";
import { cascadeOf } from "../core/dependencies.ts";
import type { JobState } from "../core/job.ts";
import { historyById, idsByAction, isOwnedBy, type JobFacts, ownerKey } from "../core/reconcile.ts";
import { nextAfterChange } from "../core/schedule.ts";
import { findCanceledAtOnce } from "../flow/enqueue.ts";
import type { DeclaredJob, JobDeclaration, JobfileApplyResult, Store } from "../store/store.ts";
import type { DesiredState } from "./desired.ts";
import { assertNotNested } from "./folder-nesting.ts";
import { missingOwners } from "./owner-presence.ts";
import { type Plan, plan, planChanges, planHasChanges } from "./plan.ts";
import { scheduleWaitConflicts } from "./plan-dependencies.ts";
import { type DeclaredSchedule, isScheduled } from "./plan-schedules.ts";
import { type ReadFolderOptions, readJobsFolder } from "./read-folder.ts";
import type { ScheduleApplyResult, SyncOutcome } from "./sync-outcome.ts";
import { previousTarget, recordSyncRun, targetToRecord } from "./sync-record.ts";

export interface SyncOptions extends ReadFolderOptions {
  /** Plan only; nothing is written to the store (the read index still is). Default false. */
  dryRun?: boolean;
  /** Take over ids that another jobs folder, still on disk, declares (`sync --adopt`). Default false. */
  adopt?: boolean;
}

function nothingApplied(): JobfileApplyResult {
  return { ...idsByAction(), rearmed: [], canceledDependents: [] };
}

/**
 * The rows the plan needs to tell which canceled dependents a restored declaration re-arms:
 * those dependents (queued by hand or by another folder, so not among `existing`) and the
 * jobs they wait for. Read only when a wanted job has such dependents, which is rare.
 */
async function dependentFacts(store: Store, existing: readonly JobFacts[], wanted: readonly string[]) {
  const known = new Set(existing.map((row) => row.id));
  const wantedSet = new Set(wanted);
  const unknown = (ids: Iterable<string>) => [...new Set(ids)].filter((id) => !known.has(id));
  const dependents = unknown(
    existing.filter((row) => wantedSet.has(row.id)).flatMap((row) => row.canceledDependents),
  );
  if (dependents.length === 0) return [];
  const rows = await store.jobDeclarations({ ids: dependents });
  for (const row of rows) known.add(row.id);
  const waitedFor = unknown(rows.flatMap((row) => row.spec.after ?? []));
  return [...rows, ...(waitedFor.length === 0 ? [] : await store.jobDeclarations({ ids: waitedFor }))];
}

/**
 * A job canceled with its jobfile cancels the jobs waiting on it: the plan names them on
 * its line, so it never shows fewer changes than the apply makes. The apply writes the
 * declarations first, so the graph is the store's with this sync's `after` lists and
 * states in place of the stored ones (cascadeOf decides).
 */
async function addWaitingDependents(store: Store, desired: DesiredState, planned: Plan): Promise<void> {
  const cancels = planned.changes.filter((change) => change.action === "cancel");
  if (cancels.length === 0) return;
  const stored = await store.jobDependentEdges({ ids: cancels.map((change) => change.id) });
  const waits = new Map<string, string[]>();
  const states = new Map<string, JobState>();
  for (const edge of stored) {
    waits.set(edge.id, [...(waits.get(edge.id) ?? []), edge.dependsOn]);
    states.set(edge.id, edge.state);
  }
  for (const job of desired.jobs) waits.set(job.spec.id, [...(job.spec.after ?? [])]);
  for (const change of planned.changes) {
    if (change.action === "create" || change.action === "replace") states.set(change.id, "pending");
    else if (change.action === "showCompleted") states.set(change.id, "completed");
  }
  const cascade = cascadeOf(
    cancels.map((change) => change.id),
    waits,
    (id) => states.get(id) ?? null,
  );
  for (const change of cancels) change.cancels = cascade.get(change.id) ?? [];
}

/**
 * An ad hoc job or another folder can take an id between planning and applying; the store
 * then refuses that declaration, and this turns the refusal into the error the user must
 * see, so the plan never shows a change that was not made.
 */
async function reportLateConflicts(
  store: Store,
  root: string,
  planned: Plan,
  applied: JobfileApplyResult,
): Promise<void> {
  const handled = new Set(Object.values(applied).flat());
  const missing = planned.changes.filter((change) => change.job !== null && !handled.has(change.id));
  if (missing.length === 0) return;
  const facts = new Map(
    (await store.jobDeclarations({ ids: missing.map((change) => change.id) })).map((row) => [row.id, row]),
  );
  const refused = new Set<string>();
  for (const change of missing) {
    const stored = facts.get(change.id);
    const job = change.job;
    if (!stored || !job || isOwnedBy(stored, root) || ownerKey(stored) === change.adopt?.from) continue;
    refused.add(change.id);
    const owner = ownerKey(stored);
    planned.errors.push({
      file: job.file,
      line: job.line,
      column: job.column,
      field: "id",
      message:
        owner === null
          ? `id "${job.spec.id}" is already used by a job enqueued by hand`
          : `id "${job.spec.id}" was taken by the jobs folder ${owner} while this sync ran`,
      hint:
        owner === null
          ? "give this job another `id`; a jobfile never takes over an ad hoc job"
          : "sync again to see the plan against it",
    });
  }
  planned.changes = planned.changes.filter((change) => !refused.has(change.id));
}

/**
 * Schedules are written after the jobs, each in its own store call: an upsert of the same
 * revision reports "unchanged" and a second removal finds nothing, so racing watchers agree.
 */
async function applySchedules(
  store: Store,
  planned: Plan,
  now: number,
  stored: ReadonlyMap<string, number | null>,
): Promise<ScheduleApplyResult> {
  const result: ScheduleApplyResult = { created: [], updated: [], removed: [] };
  for (const job of [...planned.schedules.creates, ...planned.schedules.updates]) {
    const outcome = await store.scheduleUpsert({
      id: job.spec.id,
      spec: job.spec,
      revision: job.revision,
      source: job.source,
      nextAt: nextAfterChange(job.spec, stored.get(job.spec.id) ?? null, now),
      now,
    });
    if (outcome !== "unchanged") result[outcome].push(job.spec.id);
  }
  for (const removal of planned.schedules.removals) {
    if (await store.scheduleRemove({ id: removal.actual.id })) result.removed.push(removal.actual.id);
  }
  return result;
}

/** The folder's own declared rows that its files no longer declare: candidates for removal. */
function noLongerDeclared(
  desired: DesiredState,
  declared: DeclaredJob[],
  supersedes: string | null,
): string[] {
  const desiredIds = new Set(desired.jobs.map((job) => job.spec.id));
  const ours = (row: DeclaredJob) =>
    isOwnedBy(row, desired.root) || (supersedes !== null && isOwnedBy(row, supersedes));
  return declared.filter((row) => row.declared && !desiredIds.has(row.id) && ours(row)).map((row) => row.id);
}

/**
 * `desired` with the files whose jobs wait on a schedule in error (scheduleWaitConflicts),
 * as a file that does not parse is: what they declared stays as it was. A schedule is one
 * wherever it is kept, so the whole store's count, not only those a watcher's plan covers.
 */
function holdBackScheduleWaits(
  desired: DesiredState,
  schedules: readonly { id: string }[],
  existing: readonly { id: string }[],
): DesiredState {
  const declaredSchedules = new Set(desired.jobs.filter(isScheduled).map((job) => job.spec.id));
  const scheduleIds = new Set([...declaredSchedules, ...schedules.map((schedule) => schedule.id)]);
  // A job row of an id the folder now declares a schedule is the plain job it was: this sync
  // forgets it, so it is no job to wait on (whatever order the files changed in).
  const jobIds = new Set(existing.map((row) => row.id).filter((id) => !declaredSchedules.has(id)));
  const conflicts = scheduleWaitConflicts(desired.jobs, scheduleIds, jobIds);
  if (conflicts.size === 0) return desired;
  return {
    ...desired,
    jobs: desired.jobs.filter((job) => !conflicts.has(job.file)),
    problems: [...desired.problems, ...[...conflicts.values()].flat()],
    blocked: [...desired.blocked, ...conflicts.keys()],
    blockedIds: [
      ...desired.blockedIds,
      ...desired.jobs.filter((job) => conflicts.has(job.file)).map((job) => job.spec.id),
    ],
  };
}

function realFolder(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * `schedules` with the folder each one of another folder's file lies in, for an id this
 * folder declares too: schedules keep no owner, so the store's sync records tell which
 * folder holds the file (a re-pointed link's old target counts as its folder until its
 * declarations are taken over). Live folders never nest, but a record of one that declared
 * nothing may hold another, so the innermost wins. Read only when such a schedule exists.
 */
async function withOwners<T extends DeclaredSchedule>(
  store: Store,
  desired: DesiredState,
  schedules: T[],
): Promise<T[]> {
  const ids = new Set(desired.jobs.map((job) => job.spec.id));
  const foreign = (schedule: T) =>
    schedule.source !== null &&
    ids.has(schedule.id) &&
    !isOwnedBy({ owner: null, source: schedule.source }, desired.root);
  if (!schedules.some(foreign)) return schedules;
  const folders = (await store.folderList()).flatMap((entry) => {
    const now = realFolder(entry.folder);
    return [...(now === null ? [] : [now]), ...(entry.lastSync ? [entry.lastSync.target] : [])];
  });
  return schedules.map((schedule) => {
    if (!foreign(schedule)) return schedule;
    const source = schedule.source as string;
    const holders = folders.filter((folder) => isOwnedBy({ owner: null, source }, folder));
    const owner = holders.sort((a, b) => b.length - a.length)[0] ?? null;
    return { ...schedule, owner };
  });
}

function isDeclaredRow(row: JobDeclaration): row is JobDeclaration & DeclaredJob {
  return row.source !== null;
}

export interface Reconciled {
  plan: Plan;
  /** What the store did; null on a dry run. */
  applied: JobfileApplyResult | null;
  appliedSchedules: ScheduleApplyResult | null;
  canceledAtOnce: CanceledAtOnce[];
}

/**
 * Plans `desired` against the store and applies it unless `dryRun`. With `scope`, only the
 * store's declarations it accepts take part: the watcher reconciles just the files an
 * event named, and `desired` then holds those files alone.
 */
/**
 * The `after` lists of the jobs this apply queued: one whose dependency had already ended
 * dead or canceled was canceled in the same instant, and the sync must say so, as an
 * enqueue does, rather than report it queued.
 */
function waitsOfQueued(desired: DesiredState, applied: JobfileApplyResult): Map<string, readonly string[]> {
  const queued = new Set([...applied.create, ...applied.replace]);
  const waits = new Map<string, readonly string[]>();
  for (const job of desired.jobs)
    if (queued.has(job.spec.id) && (job.spec.after ?? []).length > 0)
      waits.set(job.spec.id, job.spec.after ?? []);
  return waits;
}

export async function reconcile(params: {
  store: Store;
  desired: DesiredState;
  now: number;
  dryRun?: boolean;
  adopt?: boolean;
  /** The real folder this named folder was synced from before it was re-pointed; see previousTarget. */
  supersedes?: string | null;
  scope?: (declaration: { id: string; source: string }) => boolean;
  /** `store.declaredList()` when the caller has just read it; read here otherwise. */
  declared?: DeclaredJob[];
}): Promise<Reconciled> {
  const { store, scope } = params;
  // Facts for every id the plan may touch: the declared ones, what they wait for, and the
  // folder's own rows it no longer declares (removal candidates).
  const wanted = [...new Set(params.desired.jobs.flatMap((job) => [job.spec.id, ...(job.spec.after ?? [])]))];
  const [read, allSchedules] = await Promise.all([
    params.declared
      ? { declared: params.declared, facts: null }
      : // A whole-folder sync reads the declarations with their facts: one pass over the
        // rows instead of two (a no-op re-sync of 10,000 jobfiles read each row twice).
        store
          .jobDeclarations({ ids: wanted, everyDeclared: true })
          .then((facts) => ({ declared: facts.filter(isDeclaredRow), facts })),
    store.scheduleList(),
  ]);
  const allDeclared = read.declared;
  const declared = scope ? allDeclared.filter(scope) : allDeclared;
  const inScope = scope
    ? allSchedules.filter((entry) => entry.source === null || scope({ id: entry.id, source: entry.source }))
    : allSchedules;
  const schedules = await withOwners(store, params.desired, inScope);
  const existing =
    read.facts ??
    (await store.jobDeclarations({
      ids: [...wanted, ...noLongerDeclared(params.desired, declared, params.supersedes ?? null)],
    }));
  const desired = holdBackScheduleWaits(params.desired, allSchedules, existing);
  const facts = [...existing, ...(await dependentFacts(store, existing, wanted))];
  // A wanted id without a row may have been purged after its file went away; what it
  // completed still decides (a no-op re-sync has a row for every id and skips the read).
  const stored = new Set(existing.map((row) => row.id));
  const rowless = desired.jobs.map((job) => job.spec.id).filter((id) => !stored.has(id));
  const history = historyById(await store.completedRevisionList({ ids: rowless }));
  // Other folders' owners are looked up on disk only for the ids this folder wants.
  const wantedSet = new Set(wanted);
  const ownersOfWanted = existing.filter((row) => wantedSet.has(row.id));
  const waiting = desired.jobs.filter((job) => (job.spec.after ?? []).length > 0).map((job) => job.spec.id);
  const dependents = waiting.length === 0 ? [] : await store.jobDependentEdges({ ids: waiting });
  const planned = plan(
    desired,
    {
      declared,
      existing: facts,
      schedules,
      allScheduleIds: allSchedules.map((schedule) => schedule.id),
      missingOwners: await missingOwners(store, desired.root, ownersOfWanted, schedules),
      history,
      dependents,
    },
    { adopt: params.adopt ?? false, supersedes: params.supersedes ?? null },
  );
  await addWaitingDependents(store, desired, planned);
  let applied: JobfileApplyResult | null = null;
  let appliedSchedules: ScheduleApplyResult | null = null;
  let canceledAtOnce: CanceledAtOnce[] = [];
  if (!params.dryRun) {
    applied = nothingApplied();
    if (planHasChanges(planned)) {
      applied = await store.jobfileApply({ changes: planChanges(planned, desired.root), now: params.now });
      await reportLateConflicts(store, desired.root, planned, applied);
      canceledAtOnce = await findCanceledAtOnce(store, waitsOfQueued(desired, applied));
    }
    const storedNext = new Map(allSchedules.map((schedule) => [schedule.id, schedule.next_at]));
    appliedSchedules = await applySchedules(store, planned, params.now, storedNext);
  }
  return { plan: planned, applied, appliedSchedules, canceledAtOnce };
}

export async function syncJobsFolder(options: SyncOptions): Promise<SyncOutcome> {
  await assertNotNested(options.store, options.dir);
  const { desired, fileCount, settlesAt } = await readJobsFolder(options);
  const supersedes = await previousTarget(options.store, options.dir, desired.root);
  const reconciled = await reconcile({ ...options, desired, supersedes });
  const outcome: SyncOutcome = {
    root: desired.root,
    namespace: desired.namespace ?? null,
    fileCount,
    ...reconciled,
    settlesAt,
  };
  if (!options.dryRun) {
    const target = await targetToRecord(options.store, desired.root, supersedes);
    await recordSyncRun(options.store, {
      folder: options.dir,
      by: "sync",
      outcome,
      target,
      now: options.now,
    });
  }
  return outcome;
}
