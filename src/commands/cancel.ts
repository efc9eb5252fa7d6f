import type { CAC } from "cac";
import { type GlobalOptions, moveFromCli } from "./context.ts";

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
