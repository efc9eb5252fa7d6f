import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { colors, printJson, safeText } from "../render.ts";
import { type GlobalOptions, requireJob, withStore } from "./context.ts";

/** `cancel` and `rerun` are the two manual state moves besides `dlq retry`. */
export function registerCancelAndRerun(cli: CAC): void {
  cli
    .command("cancel <id>", "Cancel a job that has not started (pending or failed)")
    .option("--json", "Print the canceled job's id as JSON (default: human text)")
    .example("queuectl cancel job1")
    .action(async (id: string, options: GlobalOptions) => {
      await withStore(options, async (store) => {
        const job = await requireJob(store, String(id));
        const moved = await store.jobTransition({
          id: job.id,
          from: ["pending", "failed"],
          to: "canceled",
          resetAttempts: false,
          now: Date.now(),
          reason: "canceled by the user",
        });
        if (moved.length === 0) {
          const current = (await store.jobGet({ id: job.id }))?.state ?? job.state;
          const hint =
            current === "processing"
              ? "it is running; it finishes on its own, or stop its worker with `queuectl worker stop`"
              : "only pending or failed jobs can be canceled";
          throw new UserError(`job "${safeText(job.id)}" is ${current}`, hint);
        }
        if (options.json) printJson({ canceled: job.id });
        else console.log(`${colors.green("✓")} Job ${safeText(job.id)} canceled`);
      });
    });

  cli
    .command("rerun <id>", "Run a finished job (completed, dead or canceled) again, with attempts reset")
    .option("--json", "Print the re-queued job's id as JSON (default: human text)")
    .example("queuectl rerun job1")
    .action(async (id: string, options: GlobalOptions) => {
      await withStore(options, async (store) => {
        const job = await requireJob(store, String(id));
        const moved = await store.jobTransition({
          id: job.id,
          from: ["completed", "dead", "canceled"],
          to: "pending",
          resetAttempts: true,
          now: Date.now(),
        });
        if (moved.length === 0) {
          throw new UserError(
            `job "${safeText(job.id)}" is ${job.state}, not finished`,
            "it will run anyway; rerun is for completed, dead or canceled jobs",
          );
        }
        if (options.json) printJson({ rerun: job.id });
        else console.log(`${colors.green("✓")} Job ${safeText(job.id)} queued to run again`);
      });
    });
}
