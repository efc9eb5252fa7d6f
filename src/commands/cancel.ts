import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { JOB_MOVES, type JobMoveName, moveJob, refusalMessage } from "../core/moves.ts";
import { colors, printJson, safeText } from "../render.ts";
import { type GlobalOptions, withStore } from "./context.ts";

/**
 * Runs one manual move from the CLI: exit 2 naming the job's state when it does not apply.
 * Shared by `cancel`, `rerun` and `dlq retry <id>`.
 */
export async function moveFromCli(options: GlobalOptions, id: string, name: JobMoveName): Promise<void> {
  await withStore(options, async (store) => {
    const outcome = await moveJob(store, id, name, Date.now());
    if (!outcome.moved) {
      if (!outcome.current) {
        throw new UserError(
          `no job with id "${safeText(id)}"`,
          "see `queuectl list` for the ids in the queue",
        );
      }
      throw new UserError(refusalMessage(safeText(id), name, outcome.current.state), JOB_MOVES[name].refusal);
    }
    const done = {
      retry: "moved back to pending (attempts reset)",
      cancel: "canceled",
      rerun: "queued to run again",
    }[name];
    if (options.json)
      printJson({ retry: { retried: [id] }, cancel: { canceled: id }, rerun: { rerun: id } }[name]);
    else console.log(`${colors.green("✓")} Job ${safeText(id)} ${done}`);
  });
}

/** `cancel` and `rerun` are the two manual state moves besides `dlq retry`. */
export function registerCancelAndRerun(cli: CAC): void {
  cli
    .command("cancel <id>", "Cancel a job that has not started (pending or failed)")
    .option("--json", "Print the canceled job's id as JSON (default: human text)")
    .example("queuectl cancel job1")
    .action((id: string, options: GlobalOptions) => moveFromCli(options, String(id), "cancel"));

  cli
    .command("rerun <id>", "Run a finished job (completed, dead or canceled) again, with attempts reset")
    .option("--json", "Print the re-queued job's id as JSON (default: human text)")
    .example("queuectl rerun job1")
    .action((id: string, options: GlobalOptions) => moveFromCli(options, String(id), "rerun"));
}
