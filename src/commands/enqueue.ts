import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { type QueueConfig, resolveConfig } from "../core/config.ts";
import { canceledAtOnceWarnings } from "../core/dependencies.ts";
import { UserError } from "../core/errors.ts";
import {
  ARGUMENT_NAME,
  formatFromName,
  type InputFormat,
  type JobInputItem,
  parseJobInput,
  prepareJobs,
} from "../core/job-input.ts";
import { enqueuePrepared } from "../flow/enqueue.ts";
import type { Input } from "../flow/enqueue-input.ts";
import type { StreamedInput, StreamResult } from "../flow/enqueue-stream.ts";
import type { PreparingThread } from "../flow/prepared-ahead.ts";
import { colors, isTerminal, printJson, safeText } from "../render.ts";
import type { Store } from "../store/store.ts";
import { type GlobalOptions, lastValue, warnEach, withStore } from "./context.ts";

/**
 * A streamed input is written inside one transaction that holds a connection while the
 * checks made once the input has ended (its schedules' ids) read through the store: with
 * the one connection a command gets, PostgreSQL's pool would wait on itself for ever.
 */
const STREAM_CONNECTIONS = 2;

interface EnqueueOptions extends GlobalOptions {
  file?: string | string[];
  format?: string;
}

function printResult(
  ids: { count: number; jobs: string[]; schedules: string[]; canceledAtOnce: { id: string }[] },
  json: boolean | undefined,
): void {
  const total = ids.count + ids.schedules.length;
  if (json) {
    const all = [...ids.jobs, ...ids.schedules];
    // A script that waits on `ids` learns here which never run: canceled as they were queued.
    const canceled = ids.canceledAtOnce.map((job) => job.id);
    printJson({ enqueued: total, ids: all, schedules: ids.schedules, canceled });
  } else if (ids.schedules.length > 0 && ids.count === 0 && total === 1) {
    console.log(
      `${colors.green("✓")} Scheduled ${safeText(ids.schedules[0] ?? "")}; each occurrence runs as its own job`,
    );
  } else if (total === 1) {
    console.log(`${colors.green("✓")} Enqueued job ${safeText(ids.jobs[0] ?? ids.schedules[0] ?? "")}`);
  } else if (ids.schedules.length === 0) console.log(`${colors.green("✓")} Enqueued ${total} jobs`);
  else {
    const jobs = `${ids.count} job${ids.count === 1 ? "" : "s"}`;
    const schedules = `${ids.schedules.length} schedule${ids.schedules.length === 1 ? "" : "s"}`;
    console.log(`${colors.green("✓")} Enqueued ${jobs} and ${schedules}`);
  }
}

export function registerEnqueue(cli: CAC): void {
  cli
    .command("enqueue [json]", "Add a job (JSON argument) or many jobs (--file: JSON, YAML or NDJSON)")
    .option(
      "-f, --file <path>",
      "Read jobs from a file; - reads stdin (default: none, use the argument)",
      TEXT_OPTION,
    )
    .option(
      "--format <format>",
      "Input format: json, yaml or ndjson (default: from the file extension, else detected)",
      TEXT_OPTION,
    )
    .option("--json", "Print the enqueued ids as JSON (default: human text)")
    .example(`queuectl enqueue '{"id":"job1","command":"echo Hello World"}'`)
    .example("queuectl enqueue -f jobs.ndjson")
    .action(enqueueCommand);
}

/** `enqueue [json]`: also run directly, without cac, by cli-direct.ts. */
export async function enqueueCommand(json: string | undefined, options: EnqueueOptions): Promise<void> {
  const file = lastValue(options.file);
  const path = file === undefined ? undefined : String(file);
  if (json !== undefined && path !== undefined) {
    throw new UserError(
      "give either a JSON argument or --file, not both",
      "queuectl enqueue '<json>'  or  queuectl enqueue -f job.json",
    );
  }
  const format = lastValue(options.format) ?? (path ? formatFromName(path) : undefined);
  if (format !== undefined && !["json", "yaml", "ndjson"].includes(format)) {
    throw new UserError(`unknown --format "${format}"`, "use json, yaml or ndjson");
  }
  if (path === undefined && json === undefined) {
    throw new UserError(
      "no job given",
      `queuectl enqueue '{"id":"job1","command":"echo hi"}'  or  queuectl enqueue -f jobs.ndjson`,
    );
  }
  // File input loads its reading and streaming code only when there is a file.
  const input: Input =
    path === undefined
      ? {
          kind: "whole",
          text: String(json),
          name: ARGUMENT_NAME,
          format: format as InputFormat | undefined,
          cleanup: () => {},
        }
      : await (await import("../flow/enqueue-input.ts")).readInput(path, format as InputFormat | undefined);
  try {
    await enqueueInput(input, options, path !== undefined);
  } finally {
    input.cleanup();
  }
}

async function enqueueInput(input: Input, options: EnqueueOptions, fromFile: boolean): Promise<void> {
  const items = input.kind === "whole" ? parseJobInput(input.text, input.name, input.format) : [];
  // Streamed input is checked as it goes into one transaction, so a new store may stay, empty.
  const checkInput =
    input.kind === "whole" ? () => prepareJobs(items, input.name, resolveConfig({}), Date.now()) : undefined;
  // Only for files, and never through process.stderr unless it is a terminal (see isTerminal).
  const mayShowProgress = fromFile && !options.json && isTerminal(2);
  const progress = (done: number) => {
    if (done >= PROGRESS_FROM) process.stderr.write(`\renqueued ${done}`);
  };
  const preparingThread = input.kind === "stream" ? await startPreparingThread(input.input) : undefined;
  try {
    await withStore(
      options,
      async (store) => {
        // The store's clock: on PostgreSQL the server's, which workers judge `next_run_at` by.
        const now = await store.clockNow();
        const config = resolveConfig(await store.configGetAll());
        const result =
          input.kind === "stream"
            ? await (await import("../flow/enqueue-stream.ts")).enqueueStream(store, input.input, {
                config,
                now,
                keepIds: Boolean(options.json),
                onProgress: mayShowProgress ? progress : undefined,
                preparingThread,
              })
            : await enqueueItems(
                store,
                items,
                input.name,
                config,
                now,
                mayShowProgress ? progress : undefined,
              );
        if (mayShowProgress && result.count + result.schedules.length >= PROGRESS_FROM)
          process.stderr.write("\n");
        printResult(result, options.json);
        warnEach(canceledAtOnceWarnings(result.canceledAtOnce));
      },
      { connections: STREAM_CONNECTIONS, beforeCreate: checkInput },
    );
  } finally {
    preparingThread?.stop();
  }
}

/** A large input's preparing thread, started now so that it loads while the store opens. */
async function startPreparingThread(input: StreamedInput): Promise<PreparingThread | undefined> {
  const { shouldPrepareAhead } = await import("../flow/enqueue-stream.ts");
  if (shouldPrepareAhead(input, {}) === null) return undefined;
  return new (await import("../flow/prepared-ahead.ts")).PreparingThread();
}

/** Progress shows on a terminal once this many jobs are in. */
const PROGRESS_FROM = 10_000;

async function enqueueItems(
  store: Store,
  items: JobInputItem[],
  name: string,
  config: QueueConfig,
  now: number,
  onProgress?: (done: number) => void,
): Promise<StreamResult> {
  const result = await enqueuePrepared(store, prepareJobs(items, name, config, now), now, onProgress);
  return { ...result, count: result.jobs.length };
}
