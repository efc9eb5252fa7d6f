import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { UserError } from "../core/errors.ts";
import { isQueueName, JOB_STATES, QUEUE_NAME_RULE } from "../core/job.ts";
import { jobJson, jobTable, printJson, safeText, scheduleLines } from "../render.ts";
import {
  type GlobalOptions,
  integerOption,
  lastValue,
  listItems,
  parseStatesOption,
  withExistingStore,
} from "./context.ts";

interface ListOptions extends GlobalOptions {
  state?: string | string[];
  tag?: string[];
  queue?: string[];
  limit?: string[];
  all?: boolean;
  ids?: boolean;
}

/** Rows a terminal shows without --limit or --all: a screenful, never the whole queue. */
const DEFAULT_LIMIT = 50;

/**
 * `--tag a --tag b` and `--tag a,b` both mean either one, as `--state` takes them; undefined
 * when the option is absent. Tags are matched as typed, as `add --tag` stores them.
 */
function anyOfOption(option: "tag" | "queue", given: string[] | undefined): string[] | undefined {
  if (given === undefined) return undefined;
  const example = option === "tag" ? "--tag nightly,mail" : "--queue default,emails";
  const values = listItems(`--${option}`, given, example, option === "tag") ?? [];
  const badQueue = option === "queue" ? values.find((name) => !isQueueName(name)) : undefined;
  if (badQueue !== undefined) {
    throw new UserError(
      `--queue "${safeText(badQueue)}" is not a queue name (${QUEUE_NAME_RULE})`,
      `separate several with commas, e.g. ${example}`,
    );
  }
  return [...new Set(values)];
}

export function registerList(cli: CAC): void {
  cli
    .command("list", "List jobs, newest first, one row each")
    .option(
      "--state <state>",
      `Only jobs in these states; repeat it or use a,b: ${JOB_STATES.join(", ")} (default: all)`,
      TEXT_OPTION,
    )
    // As typed: cac would turn a tag 007 into 7 and a queue 2024.10 into 2024.1.
    .option(
      "--tag <tag>",
      "Only jobs carrying any of these tags; repeat it or use a,b (default: all)",
      TEXT_OPTION,
    )
    .option(
      "--queue <name>",
      "Only jobs in any of these queues; repeat it or use a,b (default: all)",
      TEXT_OPTION,
    )
    .option("--limit <n>", `Show at most n jobs (default: ${DEFAULT_LIMIT}; with --json, all)`, TEXT_OPTION)
    .option("--all", "Show every job that matches (default: off)")
    .option(
      "--json",
      "Print a JSON array of jobs, oldest first; with --limit n, the n newest (default: human text)",
    )
    .option("--ids", "Print only the ids, one per line, for scripts and completion (default: off)")
    .example("queuectl list --state pending")
    .example("queuectl list --state failed,dead --queue emails --limit 10")
    .action(async (options: ListOptions) => {
      const states = parseStatesOption(options.state);
      if (options.all && options.limit !== undefined) {
        throw new UserError("give --limit or --all, not both", "--all shows every job; --limit N shows N");
      }
      if (options.json && options.ids) {
        throw new UserError(
          "give --json or --ids, not both",
          "--json prints whole jobs; --ids prints only their ids",
        );
      }
      const givenLimit =
        options.limit === undefined ? undefined : integerOption("limit", lastValue(options.limit), 1, 0);
      const everything = options.all || options.json || options.ids;
      const limit = givenLimit ?? (everything ? null : DEFAULT_LIMIT);
      const tag = anyOfOption("tag", options.tag);
      const queue = anyOfOption("queue", options.queue);
      await withExistingStore(options, async (store) => {
        // The JSON keeps the order scripts have always read, oldest first; with --limit it
        // holds the same newest jobs the table shows, so a script gets what a person sees.
        const oldestFirst = options.json && limit === null;
        const { jobs, total } = await store.jobPage({
          states,
          tag,
          queue,
          limit,
          order: oldestFirst ? "oldest" : "newest",
        });
        if (options.json) {
          printJson((oldestFirst ? jobs : jobs.toReversed()).map(jobJson));
          return;
        }
        if (options.ids) {
          if (jobs.length > 0) process.stdout.write(`${jobs.map((job) => job.id).join("\n")}\n`);
          return;
        }
        const width = process.stdout.isTTY ? process.stdout.columns : undefined;
        process.stdout.write(jobTable(jobs, total, await store.clockNow(), width));
        // Schedules are not jobs, but their next occurrence is what a reader of `list` wants to know.
        const schedules =
          states === undefined && tag === undefined && queue === undefined ? await store.scheduleList() : [];
        // Through the stream, not console.log, which drops a failed write (a full disk) unseen.
        if (schedules.length > 0)
          process.stdout.write(`\nSchedules (${schedules.length}):\n${scheduleLines(schedules)}\n`);
      });
    });
}
