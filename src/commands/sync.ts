import { join } from "node:path";
import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { canceledAtOnceWarnings } from "../core/dependencies.ts";
import { parseAnyDurationMs } from "../core/duration.ts";
import { UserError } from "../core/errors.ts";
import { hostName, queuectlHome } from "../core/home.ts";
import { planHasChanges } from "../jobfiles/plan.ts";
import { identifyJobsFolder } from "../jobfiles/scan.ts";
import type { SyncOutcome } from "../jobfiles/sync-outcome.ts";
import { WATCHER_HEARTBEAT_MS } from "../jobfiles/sync-record.ts";
import {
  appliedAnything,
  appliedSummary,
  count,
  planLines,
  planSummary,
  syncJson,
  unchangedCount,
} from "../render/sync.ts";
import { colors, isTerminal, printJson, safeText } from "../render.ts";
import { LONG_RUNNING_CONNECTIONS, openStore } from "../store/open.ts";
import { isProcessAlive } from "../worker/process-info.ts";
import { StoreClock } from "../worker/store-clock.ts";
import { type GlobalOptions, lastValue, withStore } from "./context.ts";

interface SyncOptions extends GlobalOptions {
  dryRun?: boolean;
  allowSharedFolder?: boolean;
  adopt?: boolean;
}

interface WatchOptions extends GlobalOptions {
  allowSharedFolder?: boolean;
  resync?: string | number;
  settle?: string | number;
}

/** Files a sync must read before progress is worth showing on a terminal. */
const PROGRESS_MIN_FILES = 200;

function errorsFound(outcome: SyncOutcome, json: boolean): UserError {
  const n = outcome.plan.errors.length;
  const rest = outcome.applied ? "everything else was applied" : "nothing was applied (dry run)";
  return new UserError(
    `${count(n, "jobfile problem")} (${json ? "listed in the JSON output, under errors" : "listed above"})`,
    `fix ${n === 1 ? "it" : "them"} and sync again; ${rest}, and the jobs of files in error were left as they were`,
  );
}

function progressReporter(enabled: boolean): ((done: number, total: number) => void) | undefined {
  if (!enabled || !isTerminal(2)) return undefined;
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
    ms = parseAnyDurationMs(text, `--${name}`);
  } catch (error) {
    // Its own words (negative, not a duration), with this option's example.
    throw new UserError((error as UserError).message, `e.g. --${name} ${fallbackMs / 1000}s`);
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

/** The folder argument of `sync` and `watch` (default ./jobs); an empty one is a mistake, not ./ */
function jobsFolderArgument(dir: string | undefined): string {
  if (dir === undefined) return "jobs";
  if (String(dir).trim() === "")
    throw new UserError("the jobs folder given is empty", "give its path, or leave it out to use ./jobs");
  return String(dir);
}

export function registerSync(cli: CAC): void {
  cli
    .command(
      "sync [dir]",
      "Reconcile a jobs folder (default: ./jobs) into the queue once: print the plan, then apply it",
    )
    .option("--dry-run", "Print the plan without applying it (default: apply)")
    .option("--allow-shared-folder", "Read a folder that other users can write (default: refuse it)")
    .option(
      "--adopt",
      "Take over ids that another jobs folder still declares, e.g. a re-clone of this repo (default: refuse them)",
    )
    .option("--json", "Print the plan and what was applied as JSON (default: human text)")
    .example("queuectl sync jobs")
    .example("queuectl sync --dry-run")
    .example("queuectl sync ~/src/app-clone/jobs --adopt")
    .action(async (dir: string | undefined, options: SyncOptions) => {
      const { syncJobsFolder } = await import("../jobfiles/sync.ts");
      // A dry run reads, as `status` does: a --db naming no store is a typo to report, not a store to make.
      const mustExist = Boolean(options.dryRun);
      const folder = jobsFolderArgument(dir);
      const checkFolder = () => identifyJobsFolder(folder, Boolean(options.allowSharedFolder));
      await withStore(
        options,
        async (store) => {
          const outcome = await syncJobsFolder({
            store,
            dir: folder,
            now: await store.clockNow(),
            dryRun: Boolean(options.dryRun),
            allowSharedFolder: Boolean(options.allowSharedFolder),
            adopt: Boolean(options.adopt),
            indexDir: join(queuectlHome(), "sync-index"),
            onProgress: progressReporter(!options.json),
          });
          if (options.json) printJson({ dry_run: Boolean(options.dryRun), ...syncJson(outcome) });
          else {
            const lines = planLines(outcome);
            if (lines.length === 0)
              console.log(`No changes: ${count(unchangedCount(outcome), "declaration")} up to date.`);
            else {
              console.log(`${lines.join("\n")}\n\n${planSummary(outcome)}`);
              if (outcome.applied) console.log(appliedSummary(outcome.applied, outcome.appliedSchedules));
              else console.log("Dry run: nothing was applied.");
            }
          }
          for (const line of canceledAtOnceWarnings(outcome.canceledAtOnce))
            process.stderr.write(`warning: ${safeText(line)}\n`);
          if (outcome.plan.errors.length > 0) throw errorsFound(outcome, Boolean(options.json));
        },
        { mustExist, beforeCreate: checkFolder },
      );
    });

  cli
    .command(
      "watch [dir]",
      "Keep a jobs folder (default: ./jobs) reconciled into the queue until SIGINT or SIGTERM",
    )
    .option("--allow-shared-folder", "Read a folder that other users can write (default: refuse it)")
    // As typed: cac would read 0x3c as 60 and 1e3 as 1000, which no duration is written as.
    .option(
      "--resync <duration>",
      "Full re-sync period, catching events the OS dropped (default: 60s)",
      TEXT_OPTION,
    )
    .option(
      "--settle <duration>",
      "How long a file must stay unchanged before it is read (default: 100ms)",
      TEXT_OPTION,
    )
    .option(
      "--json",
      "Print one JSON line for the first sync and for each later one that changed something (default: human text)",
    )
    .example("queuectl watch jobs")
    .action(async (dir: string | undefined, options: WatchOptions) => {
      const { DEFAULT_RESYNC_MS, DEFAULT_SETTLE_MS, startWatcher } = await import("../jobfiles/watch.ts");
      const resyncMs = durationOption("resync", options.resync, DEFAULT_RESYNC_MS, 1000, 86_400_000);
      const settleMs = durationOption("settle", options.settle, DEFAULT_SETTLE_MS, 0, 60_000);
      const folder = jobsFolderArgument(dir);
      const store = await openStore({
        url: options.db,
        connections: LONG_RUNNING_CONNECTIONS,
        beforeCreate: () => identifyJobsFolder(folder, Boolean(options.allowSharedFolder)),
      });
      let lastErrors = "";
      let first = true;
      const log = (outcome: SyncOutcome) => {
        const errors = JSON.stringify(outcome.plan.errors);
        // A plan another watcher applied first is logged too: it shows both are alive.
        const changed =
          planHasChanges(outcome.plan) || appliedAnything(outcome) || errors !== lastErrors || first;
        lastErrors = errors;
        first = false;
        if (!changed) return;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...syncJson(outcome) })}\n`);
          return;
        }
        const lines = planLines(outcome);
        if (lines.length === 0) {
          // A file written a moment ago is read once it has stayed unchanged for --settle.
          const settling =
            outcome.settlesAt === null ? "" : "; a file still being written is read once it settles";
          lines.push(`up to date: ${count(unchangedCount(outcome), "declaration")}${settling}`);
        } else if (outcome.applied) lines.push(appliedSummary(outcome.applied, outcome.appliedSchedules));
        for (const line of canceledAtOnceWarnings(outcome.canceledAtOnce)) lines.push(`warning: ${line}`);
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
      let stopFollowing = () => {};
      try {
        // Job times, the folder's claim and heartbeats go on the store's clock, which every host judges them by.
        const storeClock = new StoreClock(store);
        stopFollowing = await storeClock.follow(WATCHER_HEARTBEAT_MS);
        const watcher = await startWatcher({
          store,
          storeNow: () => storeClock.now(),
          dir: folder,
          allowSharedFolder: Boolean(options.allowSharedFolder),
          resyncMs,
          settleMs,
          identity: { host: hostName(), pid: process.pid, isProcessAlive },
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
        stopFollowing();
        await store.close();
      }
    });
}
