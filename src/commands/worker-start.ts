/** `worker start`: background workers (and optionally a folder watcher) that outlive the command. */

import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { UserError } from "../core/errors.ts";
import { ensureHome, hostName, queuectlHome } from "../core/home.ts";
import { colors, commandText, printJson, safeText } from "../render.ts";
import { withoutPassword } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { assertOwnStore } from "../worker/own-store.ts";
import { isProcessAlive } from "../worker/process-info.ts";
import { MAX_WORKER_COUNT, startWorkers } from "../worker/supervisor.ts";
import {
  integerOption,
  lastValue,
  PREFETCH_HELP,
  type WorkerFlags,
  warnUnusedQueues,
  withStore,
  workerFlags,
} from "./context.ts";

interface StartOptions extends WorkerFlags {
  count?: unknown;
  watch?: unknown;
  allowSharedFolder?: boolean;
}

/**
 * `--watch` on a folder this host already watches would start a second watcher, and one
 * nested in another synced folder would be refused by it: both refused before anything
 * starts, as is a folder the watcher could not watch at all.
 */
async function refuseWatchedFolder(store: Store, dir: string, allowShared: boolean): Promise<void> {
  // A folder that is missing, not a folder or shared with others is bad input (exit 2), as
  // for `watch` itself, not a watcher that failed to start.
  const { identifyJobsFolder } = await import("../jobfiles/scan.ts");
  await identifyJobsFolder(dir, allowShared);
  const { assertNotWatched, folderKey } = await import("../jobfiles/sync-record.ts");
  const { assertNotNested } = await import("../jobfiles/folder-nesting.ts");
  const liveness = { now: await store.clockNow(), host: hostName(), isProcessAlive };
  await assertNotWatched(store, folderKey(dir), liveness);
  await assertNotNested(store, folderKey(dir), liveness);
}

export function registerWorkerStart(cli: CAC): void {
  cli
    .command("worker start", "Start background workers and return, printing their PIDs")
    .option(
      "--count <n>",
      `Worker processes to start, at most ${MAX_WORKER_COUNT}; for more jobs at once raise --concurrency (default: 1)`,
      TEXT_OPTION,
    )
    .option("--concurrency <n>", "Jobs each worker runs at once, at most 10,000 (default: 1)", TEXT_OPTION)
    .option("--prefetch <n>", PREFETCH_HELP, TEXT_OPTION)
    .option(
      "--queue <names>",
      "Only take jobs from these comma-separated queues (default: every queue)",
      TEXT_OPTION,
    )
    .option(
      "--watch <dir>",
      "Also start `queuectl watch <dir>` to keep a jobs folder synced (default: off)",
      TEXT_OPTION,
    )
    .option(
      "--allow-shared-folder",
      "With --watch: read a folder that other users can write, as `watch --allow-shared-folder` (default: refuse it)",
    )
    .option("--json", "Print {workers, watcher} with pids and log files as JSON (default: human text)")
    .example("queuectl worker start --count 3")
    .example("queuectl worker start --count 2 --watch jobs")
    .action(async (options: StartOptions) => {
      const text = String(lastValue(options.count) ?? "1").trim();
      if (/^\d+$/.test(text) && Number(text) > MAX_WORKER_COUNT) {
        throw new UserError(
          `--count must be at most ${MAX_WORKER_COUNT}, got ${text}`,
          `start at most ${MAX_WORKER_COUNT} workers and give each more jobs at once with --concurrency`,
        );
      }
      const count = integerOption("count", lastValue(options.count), 1, 1, MAX_WORKER_COUNT);
      const { concurrency, prefetch, queues } = workerFlags(options);
      const watch = lastValue(options.watch as string | string[] | undefined);
      if (watch === "" || typeof watch === "boolean") {
        throw new UserError("--watch needs a folder", "e.g. --watch jobs");
      }
      if (watch === undefined && options.allowSharedFolder) {
        throw new UserError(
          "--allow-shared-folder applies only to a folder watched with --watch",
          "add --watch <folder>, or leave --allow-shared-folder out",
        );
      }
      const home = ensureHome(queuectlHome());
      // Refused here too, so that the command says why (exit 2) instead of its workers.
      assertOwnStore(options.db, home);
      await withStore(options, async (store) => {
        const allowSharedFolder = Boolean(options.allowSharedFolder);
        if (watch !== undefined) await refuseWatchedFolder(store, String(watch), allowSharedFolder);
        await warnUnusedQueues(store, queues);
        const started = await startWorkers(store, {
          home,
          count,
          concurrency,
          prefetch: prefetch ?? null,
          queues,
          watchDir: watch === undefined ? null : String(watch),
          allowSharedFolder,
          dbUrl: options.db,
        });
        if (options.json) {
          printJson(started);
          return;
        }
        const pids = started.workers.map((worker) => worker.pid).join(", ");
        console.log(`${colors.green("✓")} Started ${started.workers.length} worker(s) (PIDs: ${pids})`);
        if (started.watcher)
          console.log(
            `${colors.green("✓")} Watching ${safeText(String(watch))} (PID: ${started.watcher.pid})`,
          );
        // They serve the store --db named, and only a stop given the same --db finds them.
        const db = options.db === undefined ? "" : ` --db ${commandText([withoutPassword(options.db)])}`;
        console.log(
          colors.dim(
            `Logs: ${safeText(`${home}/workers/`)}; stop with \`queuectl${safeText(db)} worker stop\``,
          ),
        );
      });
    });
}
