import type { CAC } from "cac";
import { parseDurationMs } from "../core/duration.ts";
import { UserError } from "../core/errors.ts";
import { type PlannedCancel, type PlannedUpdate, planHasChanges } from "../jobfiles/plan.ts";
import { problemPlace } from "../jobfiles/problem.ts";
import type { SyncOutcome } from "../jobfiles/sync.ts";
import { colors, printJson, safeText } from "../render.ts";
import { openStore } from "../store/open.ts";
import type { JobfileApplyResult } from "../store/store.ts";
import { type GlobalOptions, lastValue, withStore } from "./context.ts";

interface SyncOptions extends GlobalOptions {
  dryRun?: boolean;
  allowSharedFolder?: boolean;
}

interface WatchOptions extends GlobalOptions {
  allowSharedFolder?: boolean;
  resync?: string | number;
  settle?: string | number;
}

/** Files a sync must read before progress is worth showing on a terminal. */
const PROGRESS_MIN_FILES = 200;

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

function planLines(outcome: SyncOutcome): string[] {
  const { plan } = outcome;
  const ids = [...plan.creates, ...plan.updates.map((u) => u.job)].map((job) => job.spec.id);
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
    ...plan.errors.map(
      (e) =>
        `  ${colors.red("!")} error   ${safeText(problemPlace(e))}: ${safeText(e.message)}${e.hint ? ` — ${safeText(e.hint)}` : ""}`,
    ),
  ];
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function planSummary(outcome: SyncOutcome): string {
  const { plan } = outcome;
  const parts = [
    `${plan.creates.length} to create`,
    `${plan.updates.length} to update`,
    `${plan.cancels.length} to cancel`,
  ];
  if (plan.errors.length > 0) parts.push(colors.red(count(plan.errors.length, "error")));
  return `Plan: ${parts.join(", ")}; ${plan.unchanged.length} unchanged.`;
}

function appliedSummary(applied: JobfileApplyResult): string {
  const parts = [
    applied.created.length > 0 ? `${applied.created.length} created` : "",
    applied.updated.length > 0 ? `${applied.updated.length} updated` : "",
    applied.deferred.length > 0 ? `${applied.deferred.length} queued after a running attempt` : "",
    applied.alreadyCompleted.length > 0
      ? `${applied.alreadyCompleted.length} already completed (not re-run)`
      : "",
    applied.canceled.length > 0 ? `${applied.canceled.length} canceled` : "",
  ].filter(Boolean);
  return `Applied: ${parts.length > 0 ? parts.join(", ") : "nothing to change"}.`;
}

function appliedAnything(applied: JobfileApplyResult | null): boolean {
  return applied !== null && Object.values(applied).some((ids: string[]) => ids.length > 0);
}

/** The stable `--json` shape of one sync, shared by `sync` and each line of `watch --json`. */
function syncJson(outcome: SyncOutcome) {
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
      errors: plan.errors,
    },
    applied: applied && {
      created: applied.created,
      updated: applied.updated,
      deferred: applied.deferred,
      already_completed: applied.alreadyCompleted,
      canceled: applied.canceled,
    },
  };
}

function errorsFound(outcome: SyncOutcome): UserError {
  const n = outcome.plan.errors.length;
  const rest = outcome.applied ? "everything else was applied" : "nothing was applied (dry run)";
  return new UserError(
    `${count(n, "jobfile problem")} (listed above)`,
    `fix ${n === 1 ? "it" : "them"} and sync again; ${rest}, and the jobs of files in error were left as they were`,
  );
}

function progressReporter(enabled: boolean): ((done: number, total: number) => void) | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  return (done, total) => {
    if (total < PROGRESS_MIN_FILES) return;
    if (done === total) process.stderr.write("\r\x1b[K");
    else if (done % 50 === 0) process.stderr.write(`\rreading jobfiles ${done}/${total}`);
  };
}

function durationOption(
  name: string,
  value: unknown,
  fallbackMs: number,
  minMs: number,
  maxMs: number,
): number {
  const text = lastValue(value as string | string[] | undefined);
  if (text === undefined) return fallbackMs;
  let ms: number;
  try {
    ms = parseDurationMs(text, `--${name}`);
  } catch {
    throw new UserError(
      `--${name} "${String(text)}" is not a duration`,
      `e.g. --${name} ${fallbackMs / 1000}s`,
    );
  }
  if (ms < minMs || ms > maxMs) {
    throw new UserError(
      `--${name} must be between ${minMs} ms and ${maxMs / 1000} s`,
      `e.g. --${name} ${fallbackMs / 1000}s`,
    );
  }
  return ms;
}

function stamp(lines: string[]): string {
  const at = colors.dim(new Date().toISOString());
  return `${lines.map((line) => `${at} ${line.trimStart()}`).join("\n")}\n`;
}

export function registerSync(cli: CAC): void {
  cli
    .command("sync [dir]", "Reconcile a jobs folder into the queue once: print the plan, then apply it")
    .option("--dry-run", "Print the plan without applying it (default: apply)")
    .option("--allow-shared-folder", "Read a folder that other users can write (default: refuse it)")
    .option("--json", "Print the plan and what was applied as JSON (default: human text)")
    .example("queuectl sync jobs")
    .example("queuectl sync --dry-run")
    .action(async (dir: string | undefined, options: SyncOptions) => {
      const { syncJobsFolder } = await import("../jobfiles/sync.ts");
      await withStore(options, async (store) => {
        const outcome = await syncJobsFolder({
          store,
          dir: dir === undefined ? "jobs" : String(dir),
          now: Date.now(),
          dryRun: Boolean(options.dryRun),
          allowSharedFolder: Boolean(options.allowSharedFolder),
          onProgress: progressReporter(!options.json),
        });
        if (options.json) printJson({ dry_run: Boolean(options.dryRun), ...syncJson(outcome) });
        else {
          const lines = planLines(outcome);
          if (lines.length === 0)
            console.log(`No changes: ${count(outcome.plan.unchanged.length, "declared job")} up to date.`);
          else {
            console.log(`${lines.join("\n")}\n\n${planSummary(outcome)}`);
            if (outcome.applied) console.log(appliedSummary(outcome.applied));
            else console.log("Dry run: nothing was applied.");
          }
        }
        if (outcome.plan.errors.length > 0) throw errorsFound(outcome);
      });
    });

  cli
    .command("watch [dir]", "Keep a jobs folder reconciled into the queue until stopped (SIGINT, SIGTERM)")
    .option("--allow-shared-folder", "Read a folder that other users can write (default: refuse it)")
    .option("--resync <duration>", "Full re-sync period, catching events the OS dropped (default: 60s)")
    .option("--settle <duration>", "How long a file must stay unchanged before it is read (default: 100ms)")
    .option("--json", "Print one JSON line per sync that changed something (default: human text)")
    .example("queuectl watch jobs")
    .action(async (dir: string | undefined, options: WatchOptions) => {
      const { DEFAULT_RESYNC_MS, DEFAULT_SETTLE_MS, startWatcher } = await import("../jobfiles/watch.ts");
      const resyncMs = durationOption("resync", options.resync, DEFAULT_RESYNC_MS, 1000, 86_400_000);
      const settleMs = durationOption("settle", options.settle, DEFAULT_SETTLE_MS, 0, 60_000);
      const store = await openStore({ url: options.db });
      let lastErrors = "";
      let first = true;
      const log = (outcome: SyncOutcome) => {
        const errors = JSON.stringify(outcome.plan.errors);
        // A plan another watcher applied first is logged too: it shows both are alive.
        const changed =
          planHasChanges(outcome.plan) || appliedAnything(outcome.applied) || errors !== lastErrors || first;
        lastErrors = errors;
        first = false;
        if (!changed) return;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...syncJson(outcome) })}\n`);
          return;
        }
        const lines = planLines(outcome);
        if (lines.length === 0)
          lines.push(`up to date: ${count(outcome.plan.unchanged.length, "declared job")}`);
        else if (outcome.applied) lines.push(appliedSummary(outcome.applied));
        process.stdout.write(stamp(lines));
      };
      const logError = (error: unknown) => {
        const text =
          error instanceof UserError
            ? `${error.message} — ${error.hint}`
            : String((error as Error)?.message ?? error);
        process.stderr.write(stamp([`${colors.red("error:")} ${safeText(text)}`]));
      };
      const stopped = new Promise<string>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      });
      try {
        const watcher = await startWatcher({
          store,
          dir: dir === undefined ? "jobs" : String(dir),
          allowSharedFolder: Boolean(options.allowSharedFolder),
          resyncMs,
          settleMs,
          onSync: log,
          onError: logError,
        });
        if (!options.json) {
          process.stderr.write(
            stamp([`watching ${safeText(watcher.root)}; full re-sync every ${resyncMs / 1000}s`]),
          );
        }
        const signal = await stopped;
        await watcher.close();
        if (!options.json) process.stderr.write(stamp([`stopped (${signal})`]));
      } finally {
        await store.close();
      }
    });
}
