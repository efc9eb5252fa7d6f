import type { CAC } from "cac";
import { attemptJson, attemptLines, colors, jobBlocks, jobJson, printJson, specLines } from "../render.ts";
import { type GlobalOptions, requireJob, withStore } from "./context.ts";
import { scheduleJson, scheduleLines } from "./schedule.ts";

export function registerShow(cli: CAC): void {
  cli
    .command("show <id>", "Show one job: its spec, its state and every attempt so far")
    .option("--json", "Print the job with an `attempts` array as JSON (default: human text)")
    .example("queuectl show job1")
    .action(async (id: string, options: GlobalOptions) => {
      await withStore(options, async (store) => {
        // A schedule id shows the schedule and its next occurrence; occurrences are jobs.
        const schedule = await store.scheduleGet({ id: String(id) });
        if (schedule) {
          if (options.json) printJson({ ...scheduleJson(schedule), spec: schedule.spec });
          else console.log(scheduleLines([schedule]));
          return;
        }
        const job = await requireJob(store, String(id));
        const attempts = await store.attemptList({ jobId: job.id });
        if (options.json) {
          printJson({
            ...jobJson(job),
            spec: job.spec,
            // `attempts` is the list here, so the count travels as attempt_count.
            attempt_count: job.attempts,
            attempts: attempts.map(attemptJson),
          });
          return;
        }
        const block = jobBlocks([job], Date.now()).replace(/^Found 1 job\(s\):\n\n/, "");
        process.stdout.write(`${block.trimEnd()}\n${specLines(job)}\n`);
        process.stdout.write(`${colors.bold("Attempts:")}\n${attemptLines(attempts)}`);
      });
    });
}
