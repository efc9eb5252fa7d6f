import type { CAC } from "cac";
import { suggestion, UserError } from "../core/errors.ts";
import { isJobState, JOB_STATES, type JobState } from "../core/job.ts";
import { jobBlocks, jobJson, printJson } from "../render.ts";
import { type GlobalOptions, integerOption, lastValue, withStore } from "./context.ts";
import { scheduleLines } from "./schedule.ts";

interface ListOptions extends GlobalOptions {
  state?: string;
  tag?: string;
  queue?: string;
  limit?: number;
}

export function parseStateOption(value: unknown): JobState | undefined {
  const state = lastValue(value as string | string[] | undefined);
  if (state === undefined) return undefined;
  const text = String(state).toLowerCase();
  if (!isJobState(text))
    throw new UserError(`unknown state "${String(state)}"`, suggestion(String(state), JOB_STATES));
  return text;
}

export function registerList(cli: CAC): void {
  cli
    .command("list", "List jobs in insertion order")
    .option("--state <state>", `Only jobs in this state: ${JOB_STATES.join(", ")} (default: all)`)
    .option("--tag <tag>", "Only jobs carrying this tag (default: all)")
    .option("--queue <name>", "Only jobs in this queue (default: all)")
    .option("--limit <n>", "Show at most n jobs (default: all)")
    .option("--json", "Print a JSON array of jobs (default: human text)")
    .example("queuectl list --state pending")
    .action(async (options: ListOptions) => {
      const state = parseStateOption(options.state);
      const limit =
        options.limit === undefined ? undefined : integerOption("limit", lastValue(options.limit), 1, 0);
      const tag = lastValue(options.tag);
      const queue = lastValue(options.queue);
      await withStore(options, async (store) => {
        const jobs = await store.jobList({
          state,
          tag: tag === undefined ? undefined : String(tag),
          queue: queue === undefined ? undefined : String(queue),
          limit,
        });
        if (options.json) {
          printJson(jobs.map(jobJson));
          return;
        }
        process.stdout.write(jobBlocks(jobs, Date.now()));
        // Schedules are not jobs, but their next occurrence is what a reader of `list` wants to know.
        const schedules = state === undefined && tag === undefined ? await store.scheduleList() : [];
        if (schedules.length > 0)
          console.log(`\nSchedules (${schedules.length}):\n${scheduleLines(schedules)}`);
      });
    });
}
