import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { colors, jobBlocks, jobJson, printJson, safeText } from "../render.ts";
import { type GlobalOptions, requireJob, withStore } from "./context.ts";

interface RetryOptions extends GlobalOptions {
  all?: boolean;
}

export function registerDlq(cli: CAC): void {
  cli
    .command("dlq list", "List the dead letter queue: jobs that used up their retries")
    .option("--json", "Print a JSON array of jobs (default: human text)")
    .example("queuectl dlq list")
    .action(async (options: GlobalOptions) => {
      await withStore(options, async (store) => {
        const jobs = await store.jobList({ state: "dead" });
        if (options.json) printJson(jobs.map(jobJson));
        else process.stdout.write(jobs.length === 0 ? "The DLQ is empty.\n" : jobBlocks(jobs, Date.now()));
      });
    });

  cli
    .command("dlq retry [id]", "Move a dead job (or --all of them) back to pending with attempts reset to 0")
    .option("--all", "Retry every job in the DLQ (default: off)")
    .option("--json", "Print the retried ids as JSON (default: human text)")
    .example("queuectl dlq retry job1")
    .example("queuectl dlq retry --all")
    .action(async (id: string | undefined, options: RetryOptions) => {
      if ((id === undefined) === !options.all) {
        throw new UserError(
          "give a job id or --all",
          "queuectl dlq retry <id>  or  queuectl dlq retry --all",
        );
      }
      await withStore(options, async (store) => {
        const now = Date.now();
        if (id !== undefined) {
          const job = await requireJob(store, String(id));
          if (job.state !== "dead") {
            throw new UserError(
              `job "${safeText(job.id)}" is ${job.state}, not dead`,
              "only jobs in the DLQ can be retried; see `queuectl dlq list`",
            );
          }
        }
        const moved = await store.jobTransition({
          id: id === undefined ? undefined : String(id),
          from: ["dead"],
          to: "pending",
          resetAttempts: true,
          now,
        });
        if (id !== undefined && moved.length === 0) {
          throw new UserError(
            `job "${safeText(String(id))}" left the DLQ meanwhile`,
            "see `queuectl show <id>`",
          );
        }
        if (options.json) printJson({ retried: moved.map((job) => job.id) });
        else if (id !== undefined)
          console.log(
            `${colors.green("✓")} Job ${safeText(String(id))} moved back to pending (attempts reset)`,
          );
        else console.log(`${colors.green("✓")} ${moved.length} job(s) moved from the DLQ back to pending`);
      });
    });
}
