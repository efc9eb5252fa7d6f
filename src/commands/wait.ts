/**
 * `wait <id…>`: blocks until every job has ended, like `pueue wait` or `tsp -w`, and exits
 * 0 only when all of them completed, so a script can chain on the result.
 */

import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { formatDurationMs, parseDurationMs } from "../core/duration.ts";
import { runtimeError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { patientReads } from "../flow/patient-reads.ts";
import { endText, waitForJobs } from "../flow/wait.ts";
import { colors, countText, firstNamed, printJson, safeText } from "../render.ts";
import {
  type GlobalOptions,
  lastValue,
  requireJob,
  waitingThroughOutages,
  withExistingStore,
} from "./context.ts";

interface WaitOptions extends GlobalOptions {
  timeout?: unknown;
  quiet?: boolean;
}

export function registerWait(cli: CAC): void {
  cli
    .command("wait <...ids>", "Wait until every given job has ended; exit 0 only if all completed")
    .option(
      "--timeout <duration>",
      "Give up after 30s, 10m, 2h … and exit 1 (default: wait as long as it takes)",
      // As typed: cac would read 0x10 as 16.
      TEXT_OPTION,
    )
    .option("-q, --quiet", "Print nothing; only the exit code tells (default: a line per job as it ends)")
    .option("--json", "Print every job's final state as JSON (default: human text)")
    .example("queuectl wait build test && echo all green")
    .example('queuectl wait "$(queuectl add -q -- make test)" --timeout 10m')
    .action(async (given: string[], options: WaitOptions) => {
      const timeout = lastValue(options.timeout);
      const timeoutMs = timeout === undefined ? null : parseDurationMs(timeout, "--timeout");
      const ids = [...new Set(given.map(String))];
      const human = !options.json && !options.quiet;
      await withExistingStore(options, async (store) => {
        const known: Job[] = [];
        for (const id of ids) known.push(await requireJob(store, id));
        const until = timeoutMs === null ? null : Date.now() + timeoutMs;
        const result = await waitForJobs(patientReads(store, waitingThroughOutages(until)), {
          ids,
          until,
          known,
          onEnd: (job) => {
            if (!human) return;
            const mark = job.state === "completed" ? colors.green("✓") : colors.red("✗");
            console.log(`${mark} ${safeText(job.id)} ${safeText(endText(job))}`);
          },
        });
        const notCompleted = result.jobs.filter((job) => job.state !== "completed");
        const notAllCompleted = result.timedOut || notCompleted.length > 0 || result.gone.length > 0;
        if (options.json) {
          printJson({
            completed: !notAllCompleted,
            timed_out: result.timedOut,
            store_unreachable: result.unreachable,
            jobs: result.jobs.map((job) => ({
              id: job.id,
              state: job.state,
              exit_code: job.exit_code,
              last_error: job.last_error,
            })),
            gone: result.gone,
          });
        }
        // -q promises silence: a job that did not complete is the answer, told by the exit code.
        if (options.quiet && notAllCompleted) {
          process.exitCode = 1;
          return;
        }
        const ended = notCompleted.filter((job) => ["dead", "canceled"].includes(job.state));
        const failed = [
          ...ended.map((job) => `${safeText(job.id)} ${safeText(endText(job))}`),
          ...result.gone.map((id) => `${safeText(id)} was purged`),
        ];
        if (result.timedOut) {
          const waiting = notCompleted.filter((job) => !ended.includes(job));
          // Those that ended badly meanwhile are named too: the exit code stands for them as well.
          const alsoFailed = failed.length > 0 ? `; did not complete: ${firstNamed(failed)}` : "";
          const asLastRead = result.unreachable ? " while the store could not be reached" : "";
          throw runtimeError(
            `timed out after ${formatDurationMs(timeoutMs ?? 0)}${asLastRead}; still not ended: ${waiting.length > 1 ? `${countText(waiting.length)} jobs: ` : ""}${firstNamed(waiting.map((job) => `${safeText(job.id)} (${job.state})`))}${alsoFailed}`,
            "wait longer with a larger --timeout, or see `queuectl status`",
          );
        }
        if (failed.length > 0) {
          throw runtimeError(
            `${countText(failed.length)} of ${countText(ids.length)} job${ids.length === 1 ? "" : "s"} did not complete: ${firstNamed(failed)}`,
            "see `queuectl logs <id>`",
          );
        }
      });
    });
}
