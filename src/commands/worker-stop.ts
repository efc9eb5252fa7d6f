/** `worker stop`: this host's workers (or, with --all, every host's) finish their jobs and exit. */

import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { resolveConfig, workerLostAfterMs } from "../core/config.ts";
import { formatDurationMs, parseDurationMs } from "../core/duration.ts";
import { hostName, queuectlHome } from "../core/home.ts";
import { colors, printJson } from "../render.ts";
import { stopWorkers } from "../worker/stop.ts";
import { type GlobalOptions, lastValue, withExistingStore } from "./context.ts";

interface StopOptions extends GlobalOptions {
  timeout?: unknown;
  all?: boolean;
}

export function registerWorkerStop(cli: CAC): void {
  cli
    .command("worker stop", "Stop this host's workers: they finish running jobs, then exit")
    .option(
      "--timeout <duration>",
      "How long running jobs may take to finish; then they are stopped and go back to pending (default: 30s)",
      TEXT_OPTION,
    )
    .option(
      "--all",
      "Also ask workers on every other host to stop, through the store (default: this host only)",
    )
    .option("--json", "Print what was stopped as JSON (default: human text)")
    .example("queuectl worker stop")
    .example("queuectl worker stop --timeout 5m")
    .action(async (options: StopOptions) => {
      const timeout = lastValue(options.timeout as string | number | undefined);
      const timeoutMs = timeout === undefined ? 30_000 : parseDurationMs(timeout, "--timeout");
      await withExistingStore(options, async (store) => {
        const report = await stopWorkers(store, {
          home: queuectlHome(),
          host: hostName(),
          timeoutMs,
          all: Boolean(options.all),
          lostAfterMs: workerLostAfterMs(resolveConfig(await store.configGetAll())),
          onAlreadyStopping: (pids) => {
            if (!options.json)
              console.log(
                `${pids.length} worker(s) already stopping (PID: ${pids.join(", ")}): waiting for their running jobs, up to ${formatDurationMs(timeoutMs)}`,
              );
          },
          onEscalate: (pids) => {
            if (!options.json && pids.length > 0) {
              console.log(
                `Timeout of ${formatDurationMs(timeoutMs)} reached: stopping the running jobs of ${pids.length} worker(s); they go back to pending, but a job already past its timeout counts as failed`,
              );
            }
          },
        });
        if (options.json) {
          printJson({
            stopped: report.stopped,
            forced: report.forced,
            killed: report.killed,
            watchers: report.watchers,
            stale: report.stale,
            remote_asked: report.remoteAsked,
            lost: report.lost,
          });
          return;
        }
        const total = report.stopped.length + report.forced.length + report.killed.length;
        if (total === 0 && report.watchers.length === 0) console.log("No workers running on this host.");
        else console.log(`${colors.green("✓")} Stopped ${total} worker(s)`);
        if (report.forced.length > 0)
          console.log(
            `  ${report.forced.length} had running jobs stopped and returned to pending (a job already past its timeout counts as failed; one killed meanwhile ends as the kill says, one whose jobfile was removed ends canceled)`,
          );
        if (report.killed.length > 0)
          console.log(
            colors.yellow(
              `  ${report.killed.length} did not exit in time and were killed; jobs they held are rescued when their leases expire`,
            ),
          );
        if (report.watchers.length > 0)
          console.log(`  Stopped the jobs folder watcher (PID: ${report.watchers.join(", ")})`);
        if (report.stale > 0) console.log(colors.dim(`  Removed ${report.stale} stale registry entries`));
        if (report.remoteAsked > 0)
          console.log(
            `  Asked ${report.remoteAsked} worker(s) no signal reaches (other hosts or containers) to stop after their running jobs${timeout === undefined ? "" : ", however long they take: --timeout stops only this host's workers' jobs"}`,
          );
        if (report.lost > 0)
          console.log(
            colors.yellow(
              `  ${report.lost} worker(s) on other hosts are lost (no heartbeat): their jobs are rescued when their leases expire`,
            ),
          );
      });
    });
}
