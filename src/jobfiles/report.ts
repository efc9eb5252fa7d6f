/**
 * What users read about a sync: terraform-style plan lines (`+ create`, `~ update`,
 * `- cancel`, `! error`), the plan and apply summaries, and the stable `--json` shape that
 * `sync --json` prints and `watch --json` prints one line of per sync.
 */

import { colors, safeText } from "../render.ts";
import type { JobfileApplyResult } from "../store/store.ts";
import type { PlannedCancel, PlannedUpdate } from "./plan.ts";
import { problemPlace } from "./problem.ts";
import type { ScheduleApplyResult, SyncOutcome } from "./sync.ts";

function updateNote(update: PlannedUpdate): string {
  if (update.reason === "restored") return "its jobfile is back";
  if (update.reason === "moved") return "now declared by this file";
  if (update.reason === "reverted")
    return "back to the running revision; the change queued behind it is dropped";
  const state = update.actual.state;
  if (state === "pending" || state === "failed")
    return `new revision; replaces the ${state} one, attempts reset`;
  if (state === "processing") return "new revision; queued after the running attempt";
  return `new revision; queued unless this exact revision already completed (now ${state})`;
}

function cancelNote(cancel: PlannedCancel): string {
  const state = cancel.actual.state;
  if (state === "pending" || state === "failed") return `jobfile removed; the ${state} job is canceled`;
  if (state === "processing") return "jobfile removed; the running attempt finishes";
  return `jobfile removed; ${state}, history kept`;
}

export function planLines(outcome: SyncOutcome): string[] {
  const { plan } = outcome;
  const { schedules } = plan;
  const ids = [
    ...plan.creates,
    ...plan.updates.map((u) => u.job),
    ...schedules.creates,
    ...schedules.updates,
    ...schedules.removals.map((r) => ({ spec: { id: r.actual.id } })),
  ].map((job) => job.spec.id);
  const width = Math.min(
    40,
    Math.max(0, ...ids.map((id) => id.length), ...plan.cancels.map((c) => c.actual.id.length)),
  );
  const row = (mark: string, verb: string, id: string, file: string, note?: string) =>
    `  ${mark} ${verb}  ${safeText(id).padEnd(width)}  ${colors.dim(safeText(file))}${note ? `  (${note})` : ""}`;
  return [
    ...plan.creates.map((job) => row(colors.green("+"), "create", job.spec.id, job.file)),
    ...plan.updates.map((u) => row(colors.yellow("~"), "update", u.job.spec.id, u.job.file, updateNote(u))),
    ...plan.cancels.map((c) => row(colors.red("-"), "cancel", c.actual.id, c.file, cancelNote(c))),
    ...schedules.creates.map((job) =>
      row(
        colors.green("+"),
        "create",
        job.spec.id,
        job.file,
        `schedule "${safeText(job.spec.schedule ?? "")}"`,
      ),
    ),
    ...schedules.updates.map((job) =>
      row(colors.yellow("~"), "update", job.spec.id, job.file, "schedule changed"),
    ),
    ...schedules.removals.map((r) =>
      row(
        colors.red("-"),
        "remove",
        r.actual.id,
        r.file,
        "schedule; jobfile removed, future occurrences stop",
      ),
    ),
    ...plan.errors.map(
      (e) =>
        `  ${colors.red("!")} error   ${safeText(problemPlace(e))}: ${safeText(e.message)}${e.hint ? ` — ${safeText(e.hint)}` : ""}`,
    ),
  ];
}

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function planSummary(outcome: SyncOutcome): string {
  const { plan } = outcome;
  const { schedules } = plan;
  const parts = [
    `${plan.creates.length + schedules.creates.length} to create`,
    `${plan.updates.length + schedules.updates.length} to update`,
    `${plan.cancels.length} to cancel`,
  ];
  if (schedules.removals.length > 0) parts.push(`${count(schedules.removals.length, "schedule")} to remove`);
  if (plan.errors.length > 0) parts.push(colors.red(count(plan.errors.length, "error")));
  return `Plan: ${parts.join(", ")}; ${unchangedCount(outcome)} unchanged.`;
}

/** Declarations already as the folder says: jobs and schedules. */
export function unchangedCount(outcome: SyncOutcome): number {
  return outcome.plan.unchanged.length + outcome.plan.schedules.unchanged.length;
}

export function appliedSummary(applied: JobfileApplyResult, schedules: ScheduleApplyResult | null): string {
  const parts = [
    applied.created.length > 0 ? `${applied.created.length} created` : "",
    applied.updated.length > 0 ? `${applied.updated.length} updated` : "",
    applied.deferred.length > 0 ? `${applied.deferred.length} queued after a running attempt` : "",
    applied.alreadyCompleted.length > 0
      ? `${applied.alreadyCompleted.length} already completed (not re-run)`
      : "",
    applied.canceled.length > 0 ? `${applied.canceled.length} canceled` : "",
    ...(["created", "updated", "removed"] as const).map((what) => {
      const n = schedules?.[what].length ?? 0;
      return n > 0 ? `${count(n, "schedule")} ${what}` : "";
    }),
  ].filter(Boolean);
  return `Applied: ${parts.length > 0 ? parts.join(", ") : "nothing to change"}.`;
}

export function appliedAnything(outcome: SyncOutcome): boolean {
  return [outcome.applied, outcome.appliedSchedules].some(
    (applied) => applied !== null && Object.values(applied).some((ids: string[]) => ids.length > 0),
  );
}

/** The stable `--json` shape of one sync, shared by `sync` and each line of `watch --json`. */
export function syncJson(outcome: SyncOutcome) {
  const { plan, applied } = outcome;
  return {
    folder: outcome.root,
    files: outcome.fileCount,
    plan: {
      create: plan.creates.map((job) => ({ id: job.spec.id, file: job.file, revision: job.revision })),
      update: plan.updates.map((u) => ({
        id: u.job.spec.id,
        file: u.job.file,
        revision: u.job.revision,
        previous_revision: u.actual.revision,
        state: u.actual.state,
        reason: u.reason,
      })),
      cancel: plan.cancels.map((c) => ({ id: c.actual.id, file: c.file, state: c.actual.state })),
      unchanged: plan.unchanged.length,
      schedules: {
        create: plan.schedules.creates.map((job) => ({
          id: job.spec.id,
          file: job.file,
          revision: job.revision,
          schedule: job.spec.schedule,
        })),
        update: plan.schedules.updates.map((job) => ({
          id: job.spec.id,
          file: job.file,
          revision: job.revision,
          schedule: job.spec.schedule,
        })),
        remove: plan.schedules.removals.map((r) => ({ id: r.actual.id, file: r.file })),
        unchanged: plan.schedules.unchanged.length,
      },
      errors: plan.errors,
    },
    applied: applied && {
      created: applied.created,
      updated: applied.updated,
      deferred: applied.deferred,
      already_completed: applied.alreadyCompleted,
      canceled: applied.canceled,
    },
    applied_schedules: outcome.appliedSchedules,
  };
}
