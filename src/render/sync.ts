/**
 * What users read about a sync, in the manner of `terraform plan`: one line per decided
 * change (`+` create, `~` update, `=` a revision that already completed, `-` cancel or
 * forget, `!` error), the fields an update changes, the plan and apply summaries (counted
 * by one function, so the two always add up alike), and the stable `--json` shape that
 * `sync --json` prints and `watch --json` prints one line of per sync.
 */

import { cellLabel } from "../core/matrix.ts";
import type { Adoption } from "../core/ownership.ts";
import type { JobfileAction } from "../core/reconcile.ts";
import type { DesiredJob } from "../jobfiles/desired.ts";
import { type FieldChange, showValue } from "../jobfiles/field-changes.ts";
import type { PlannedJob } from "../jobfiles/plan.ts";
import { problemPlace } from "../jobfiles/problem.ts";
import {
  appliedCounts,
  type ChangeCounts,
  planCounts,
  type ScheduleApplyResult,
  type SyncOutcome,
} from "../jobfiles/sync-outcome.ts";
import { colors, safeText } from "../render.ts";
import type { JobfileApplyResult } from "../store/store.ts";

/** Revisions are long hashes; six characters tell them apart in a plan, as git does. */
export function shortRevision(revision: string): string {
  return revision.slice(0, 6);
}

function when(at: number | null): string {
  return at === null ? "" : ` ${new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z")}`;
}

const ADOPT_REASONS = {
  gone: "folder no longer exists",
  undeclared: "no longer declared there",
  relinked: "the jobs folder was re-pointed here",
  asked: "--adopt",
} as const;

/** Why a job or schedule is no longer declared as it was, as its line says it. */
const GONE_BECAUSE = {
  jobfileRemoved: "jobfile removed",
  noLongerDeclared: "no longer declared in its file",
  nowSchedule: "now declared as a schedule",
  nowJob: "now declared as a plain job",
} as const;

/** The same reasons, as the plan's summary counts them. */
const FORGOTTEN_BECAUSE: Record<keyof typeof GONE_BECAUSE, string> = {
  jobfileRemoved: "file removed",
  noLongerDeclared: "no longer declared in its file",
  nowSchedule: "no longer declared as a job",
  nowJob: "now declared as a plain job",
};

/** A job declared again where it had been a schedule of its id: a new revision, or the one it was. */
function describeNowJob(change: PlannedJob): string | null {
  const actual = change.actual;
  const state = actual?.state;
  if (!actual) return change.action === "create" ? "create: now declared as a plain job" : null;
  if (actual.declared) return null;
  if (change.action === "replace") {
    return change.job?.revision === actual.revision
      ? "restore: declared as a plain job again; queued again"
      : `update: now declared as a plain job; the new revision is queued (was ${state})`;
  }
  if (change.action === "redeclare") return `redeclare: declared as a plain job again (${state}, not re-run)`;
  return null;
}

function describe(change: PlannedJob): string {
  const state = change.actual?.state;
  const running = change.actual ? shortRevision(change.actual.revision) : "";
  const gone = GONE_BECAUSE[change.reason ?? "jobfileRemoved"];
  const nowJob = change.reason === "nowJob" ? describeNowJob(change) : null;
  if (nowJob !== null) return nowJob;
  switch (change.action) {
    case "create":
      return "create";
    case "replace":
      if (state === "pending" || state === "failed")
        return `update: replaces the ${state} run, attempts reset`;
      if (change.actual && !change.actual.declared)
        return change.adopt ? "update: declared here, queued" : "restore: its jobfile is back; queued again";
      return `update: the new revision is queued (was ${state})`;
    case "defer":
      return `update: queued after the running attempt of ${running}`;
    case "dropDeferred":
      return `update: back to the running revision ${running}; the change queued behind it is dropped`;
    case "showCompleted": {
      const completed = change.completed;
      const dropped = !change.actual
        ? "; its purged row comes back, not re-run"
        : state === "pending" || state === "failed"
          ? `; the ${state} run of ${running} is dropped`
          : state === "completed"
            ? ""
            : ` (was ${state} at ${running})`;
      return `unchanged: revision ${shortRevision(completed?.revision ?? "")} completed${when(completed?.at ?? null)}${dropped}`;
    }
    case "skipCompleted": {
      const queued = change.actual?.nextRevision ?? null;
      const dropped = queued !== null && queued !== change.completed?.revision;
      return `unchanged: revision ${shortRevision(change.completed?.revision ?? "")} completed${when(change.completed?.at ?? null)}; the running attempt of ${running} finishes, nothing runs after it${dropped ? "; the change queued behind it is dropped" : ""}`;
    }
    case "redeclare":
      if (change.actual && !change.actual.declared)
        return `redeclare: ${change.adopt ? "declared here" : "its jobfile is back"} (${state}, not re-run)`;
      if (change.actual?.source !== change.job?.source) return "redeclare: now declared by this file";
      return "redeclare: records its jobs folder";
    case "cancel":
      return `cancel: ${gone} (was ${state})`;
    case "forget":
      return state === "processing"
        ? `forget: ${gone}; the running attempt finishes, no retry`
        : `forget: ${gone}; ${state}, history kept`;
  }
}

function mark(action: JobfileAction): string {
  if (action === "create") return colors.green("+");
  if (action === "cancel" || action === "forget") return colors.red("-");
  if (action === "showCompleted" || action === "skipCompleted") return colors.dim("=");
  return colors.yellow("~");
}

function fieldLines(fields: readonly FieldChange[]): string[] {
  return fields.map(
    (field) =>
      `      ${colors.yellow("~")} ${safeText(field.field)}: ${safeText(showValue(field.from, field.field))} → ${safeText(showValue(field.to, field.field))}`,
  );
}

function fieldsJson(fields: readonly FieldChange[]) {
  return fields.map((field) => ({ field: field.field, from: field.from ?? null, to: field.to ?? null }));
}

/** ` (matrix build: region=eu, size=s)`: which declaration made the job, when a matrix did. */
function matrixNote(job: DesiredJob | null): string {
  if (!job?.matrix) return "";
  return colors.dim(` (matrix ${safeText(job.matrix.declaration)}: ${safeText(cellLabel(job.matrix.cell))})`);
}

function matrixJson(job: DesiredJob | null) {
  return job?.matrix ? { declaration: job.matrix.declaration, values: job.matrix.cell } : null;
}

function adoptNote(adopt: Adoption | null): string {
  return adopt ? `adopt from ${safeText(adopt.from)} (${ADOPT_REASONS[adopt.reason]}); ` : "";
}

/** Which change of the plan re-arms each dependent, by the dependent's id. */
function rearmedBy(changes: readonly PlannedJob[]): Map<string, string> {
  const by = new Map<string, string>();
  for (const change of changes) for (const id of change.rearms) if (!by.has(id)) by.set(id, change.id);
  return by;
}

/**
 * A canceled job whose jobfile is back is not re-run by that alone, but a job it waits for,
 * declared again in the same plan, re-arms it: then it runs, and its line says so.
 */
function describeWithRearm(change: PlannedJob, rearmer: string | undefined): string {
  if (rearmer === undefined || change.action !== "redeclare") return describe(change);
  return `redeclare: ${change.adopt ? "declared here" : "its jobfile is back"} (${change.actual?.state}); re-armed by ${safeText(rearmer)}`;
}

function changeLines(change: PlannedJob, width: number, rearmer?: string): string[] {
  const adopt = adoptNote(change.adopt);
  const rearms =
    change.rearms.length > 0 ? `; re-arms ${change.rearms.map((id) => safeText(id)).join(", ")}` : "";
  const cancels = change.cancels?.length
    ? `; also cancels ${change.cancels.map((id) => safeText(id)).join(", ")}, waiting on it`
    : "";
  const atOnce = change.canceledAtOnce ? `; canceled at once: ${safeText(change.canceledAtOnce)}` : "";
  const head = `  ${mark(change.action)} ${safeText(change.id).padEnd(width)}  ${adopt}${describeWithRearm(change, rearmer)}${rearms}${cancels}${atOnce}${matrixNote(change.job)}  ${colors.dim(safeText(change.file))}`;
  return [head, ...fieldLines(change.fields)];
}

export function planLines(outcome: SyncOutcome): string[] {
  const { plan } = outcome;
  const { schedules } = plan;
  const ids = [
    ...plan.changes.map((change) => change.id),
    ...[...schedules.creates, ...schedules.updates].map((job) => job.spec.id),
    ...schedules.removals.map((removal) => removal.actual.id),
  ];
  const width = Math.min(40, Math.max(0, ...ids.map((id) => id.length)));
  const rearmers = rearmedBy(plan.changes);
  const row = (markText: string, id: string, text: string, file: string) =>
    `  ${markText} ${safeText(id).padEnd(width)}  ${text}  ${colors.dim(safeText(file))}`;
  return [
    ...plan.changes.flatMap((change) => changeLines(change, width, rearmers.get(change.id))),
    ...schedules.creates.map((job) =>
      row(
        colors.green("+"),
        job.spec.id,
        `create schedule "${safeText(job.spec.schedule ?? "")}"${matrixNote(job)}`,
        job.file,
      ),
    ),
    ...schedules.updates.flatMap((job) => [
      row(colors.yellow("~"), job.spec.id, `update: schedule changed${matrixNote(job)}`, job.file),
      ...fieldLines(plan.scheduleFields?.get(job.spec.id) ?? []),
    ]),
    ...schedules.removals.map((r) =>
      row(
        colors.red("-"),
        r.actual.id,
        `${adoptNote(r.adopt)}remove schedule: ${GONE_BECAUSE[r.reason]}, future occurrences stop`,
        r.file,
      ),
    ),
    ...plan.errors.map(
      (e) =>
        `  ${colors.red("!")} error  ${safeText(problemPlace(e))}: ${safeText(e.message)}${e.hint ? ` — ${safeText(e.hint)}` : ""}`,
    ),
  ];
}

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * `forgetWhy` says why the plan forgets jobs: their files were removed, unless some are
 * only declared as schedules now.
 */
function countParts(counts: ChangeCounts, tense: "plan" | "applied", forgetWhy = "file removed"): string[] {
  const plan = tense === "plan";
  const parts: [number, string, string][] = [
    [counts.create + counts.schedule_create, "to create", "created"],
    [counts.update + counts.schedule_update, "to update", "updated"],
    [counts.redeclare, "to re-declare (not re-run)", "re-declared (not re-run)"],
    [counts.already_completed, "already completed (not re-run)", "already completed (not re-run)"],
    [counts.cancel, "to cancel", "canceled"],
    [counts.forget, `to forget (${forgetWhy}, history kept)`, "forgotten"],
  ];
  const alwaysNamed = new Set(["to create", "to update", "to cancel"]);
  const shown = parts
    // The plan always names create, update and cancel, as terraform does; the rest when they occur.
    .filter(([n, planned]) => n > 0 || (plan && alwaysNamed.has(planned)))
    .map(([n, planned, applied]) => `${n} ${plan ? planned : applied}`);
  if (counts.schedule_remove > 0)
    shown.push(`${count(counts.schedule_remove, "schedule")} ${plan ? "to remove" : "removed"}`);
  return shown;
}

export function planSummary(outcome: SyncOutcome): string {
  // The summary gives the one reason every forgotten job shares, else the reason they all come to.
  const reasons = new Set(
    outcome.plan.changes
      .filter((change) => change.action === "forget")
      .map((change) => change.reason ?? "jobfileRemoved"),
  );
  const [only] = reasons;
  const forgetWhy = reasons.size === 1 && only !== undefined ? FORGOTTEN_BECAUSE[only] : "no longer declared";
  // What the apply then reports as dependents re-armed and canceled, counted the same way.
  const rearms = new Set(outcome.plan.changes.flatMap((change) => change.rearms));
  // A job re-declared and re-armed in one plan runs: it counts as re-armed, not as "not re-run".
  const counts = planCounts(outcome);
  const rearmedRedeclares = outcome.plan.changes.filter(
    (change) => change.action === "redeclare" && rearms.has(change.id),
  ).length;
  const parts = countParts({ ...counts, redeclare: counts.redeclare - rearmedRedeclares }, "plan", forgetWhy);
  const cancels = new Set(outcome.plan.changes.flatMap((change) => change.cancels ?? []));
  if (rearms.size > 0) parts.push(`${count(rearms.size, "dependent")} to re-arm`);
  if (cancels.size > 0) parts.push(`${count(cancels.size, "dependent")} to cancel`);
  if (outcome.plan.errors.length > 0) parts.push(colors.red(count(outcome.plan.errors.length, "error")));
  return `Plan: ${parts.join(", ")}; ${unchangedCount(outcome)} unchanged.`;
}

/** Declarations already as the folder says: jobs and schedules. */
export function unchangedCount(outcome: SyncOutcome): number {
  return outcome.plan.unchanged.length + outcome.plan.schedules.unchanged.length;
}

export function appliedSummary(applied: JobfileApplyResult, schedules: ScheduleApplyResult | null): string {
  const counts = appliedCounts(applied, schedules);
  const rearmed = new Set(applied.rearmed);
  const rearmedRedeclares = applied.redeclare.filter((id) => rearmed.has(id)).length;
  const parts = countParts({ ...counts, redeclare: counts.redeclare - rearmedRedeclares }, "applied");
  if (applied.rearmed.length > 0) parts.push(`${count(applied.rearmed.length, "dependent")} re-armed`);
  if (applied.canceledDependents.length > 0)
    parts.push(`${count(applied.canceledDependents.length, "dependent")} canceled`);
  return `Applied: ${parts.length > 0 ? parts.join(", ") : "nothing to change"}.`;
}

export function appliedAnything(outcome: SyncOutcome): boolean {
  return [outcome.applied, outcome.appliedSchedules].some(
    (applied) => applied !== null && Object.values(applied).some((ids: string[]) => ids.length > 0),
  );
}

/** JSON keys are snake_case: `showCompleted` → `show_completed`. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function changeJson(change: PlannedJob) {
  return {
    id: change.id,
    action: snake(change.action),
    reason: change.reason && snake(change.reason),
    file: change.file,
    revision: change.job?.revision ?? null,
    state: change.actual?.state ?? null,
    previous_revision: change.actual?.revision ?? null,
    adopt_from: change.adopt?.from ?? null,
    adopt_reason: change.adopt?.reason ?? null,
    completed_revision: change.completed?.revision ?? null,
    completed_at: change.completed?.at == null ? null : new Date(change.completed.at).toISOString(),
    rearms: change.rearms,
    cancels: change.cancels ?? [],
    canceled_at_once: change.canceledAtOnce ?? null,
    fields: fieldsJson(change.fields),
    matrix: matrixJson(change.job),
  };
}

/** The stable `--json` shape of one sync, shared by `sync` and each line of `watch --json`. */
export function syncJson(outcome: SyncOutcome) {
  const { plan, applied } = outcome;
  return {
    folder: outcome.root,
    namespace: outcome.namespace,
    files: outcome.fileCount,
    plan: {
      changes: plan.changes.map(changeJson),
      counts: planCounts(outcome),
      unchanged: plan.unchanged.length,
      schedules: {
        create: plan.schedules.creates.map((job) => ({
          id: job.spec.id,
          file: job.file,
          revision: job.revision,
          schedule: job.spec.schedule,
          matrix: matrixJson(job),
        })),
        update: plan.schedules.updates.map((job) => ({
          id: job.spec.id,
          file: job.file,
          revision: job.revision,
          schedule: job.spec.schedule,
          fields: fieldsJson(plan.scheduleFields?.get(job.spec.id) ?? []),
          matrix: matrixJson(job),
        })),
        remove: plan.schedules.removals.map((r) => ({
          id: r.actual.id,
          file: r.file,
          reason: snake(r.reason),
          adopt_from: r.adopt?.from ?? null,
          adopt_reason: r.adopt?.reason ?? null,
        })),
        unchanged: plan.schedules.unchanged.length,
      },
      errors: plan.errors,
    },
    applied: applied && {
      ...Object.fromEntries(Object.entries(applied).map(([action, ids]) => [snake(action), ids])),
      canceled_at_once: outcome.canceledAtOnce.map((job) => job.id),
      counts: appliedCounts(applied, outcome.appliedSchedules),
    },
    applied_schedules: outcome.appliedSchedules,
  };
}
