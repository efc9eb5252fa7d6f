import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { purgedDependencyWarnings, retryAllDead } from "../flow/moves.ts";
import { colors, jobBlocks, jobJson, printJson } from "../render.ts";

import { type GlobalOptions, moveFromCli, warnEach, withExistingStore } from "./context.ts";

interface RetryOptions extends GlobalOptions {
  all?: boolean;
}

export function registerDlq(cli: CAC): void {
  cli
    .command("dlq list", "List the dead letter queue: jobs that used up their retries")
    .option("--json", "Print a JSON array of jobs (default: human text)")
    .example("queuectl dlq list")
    .action(async (options: GlobalOptions) => {
      await withExistingStore(options, async (store) => {
        const jobs = await store.jobList({ state: "dead" });
        if (options.json) printJson(jobs.map(jobJson));
        else
          process.stdout.write(
            jobs.length === 0 ? "The DLQ is empty.\n" : jobBlocks(jobs, await store.clockNow()),
          );
      });
    });

  cli
    .command("dlq retry [id]", "Move a dead job (or --all of them) back to pending with attempts reset to 0")
    .option("--all", "Retry every job in the DLQ (default: off)")
    .option("--json", "Print the retried ids as JSON (default: human text)")
    .example("queuectl dlq retry job1")
    .example("queuectl dlq retry --all")
    .action(async (id: string | undefined, options: RetryOptions) => {
      if (id !== undefined && options.all) {
        throw new UserError(
          "give a job id or --all, not both",
          "queuectl dlq retry <id> retries one job; queuectl dlq retry --all retries every dead job",
        );
      }
      if (id === undefined && !options.all) {
        throw new UserError(
          "give a job id or --all",
          "queuectl dlq retry <id>  or  queuectl dlq retry --all",
        );
      }
      if (id !== undefined) {
        await moveFromCli(options, String(id), "retry");
        return;
      }
      await withExistingStore(options, async (store) => {
        const moved = await retryAllDead(store, await store.clockNow());
        if (options.json) printJson({ retried: moved.map((job) => job.id) });
        else console.log(`${colors.green("✓")} ${moved.length} job(s) moved from the DLQ back to pending`);
        warnEach(await purgedDependencyWarnings(store, moved));
      });
    });
}
