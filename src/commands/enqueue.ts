import { readFileSync } from "node:fs";
import type { CAC } from "cac";
import { resolveConfig } from "../core/config.ts";
import { UserError } from "../core/errors.ts";
import { ARGUMENT_NAME, formatFromName, parseJobInput, prepareJobs } from "../core/job-input.ts";
import { enqueuePrepared } from "../flow/enqueue.ts";
import { colors, printJson, safeText } from "../render.ts";
import { type GlobalOptions, lastValue, withStore } from "./context.ts";

interface EnqueueOptions extends GlobalOptions {
  file?: string | string[];
  format?: string;
}

function readInput(json: string | undefined, file: string | undefined): { text: string; name: string } {
  if (json !== undefined && file !== undefined) {
    throw new UserError(
      "give either a JSON argument or --file, not both",
      "queuectl enqueue '<json>'  or  queuectl enqueue -f job.json",
    );
  }
  if (file === "-") return { text: readFileSync(0, "utf8"), name: "stdin" };
  if (file !== undefined) {
    try {
      return { text: readFileSync(file, "utf8"), name: file };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(
        `cannot read ${file} (${code ?? (error as Error).message})`,
        "check the path; use -f - to read stdin",
      );
    }
  }
  if (json === undefined) {
    throw new UserError(
      "no job given",
      `queuectl enqueue '{"id":"job1","command":"echo hi"}'  or  queuectl enqueue -f jobs.ndjson`,
    );
  }
  return { text: String(json), name: ARGUMENT_NAME };
}

export function registerEnqueue(cli: CAC): void {
  cli
    .command("enqueue [json]", "Add a job (JSON argument) or many jobs (--file: JSON, YAML or NDJSON)")
    .option("-f, --file <path>", "Read jobs from a file; - reads stdin (default: none, use the argument)")
    .option(
      "--format <format>",
      "Input format: json, yaml or ndjson (default: from the file extension, else detected)",
    )
    .option("--json", "Print the enqueued ids as JSON (default: human text)")
    .example(`queuectl enqueue '{"id":"job1","command":"echo Hello World"}'`)
    .example("queuectl enqueue -f jobs.ndjson")
    .action(async (json: string | undefined, options: EnqueueOptions) => {
      const file = lastValue(options.file);
      const { text, name } = readInput(json, file === undefined ? undefined : String(file));
      const format = options.format ?? (file ? formatFromName(String(file)) : undefined);
      if (format !== undefined && !["json", "yaml", "ndjson"].includes(format)) {
        throw new UserError(`unknown --format "${format}"`, "use json, yaml or ndjson");
      }
      const items = parseJobInput(text, name, format as "json" | "yaml" | "ndjson" | undefined);
      const showProgress = Boolean(process.stderr.isTTY) && items.length >= 10_000 && !options.json;
      await withStore(options, async (store) => {
        const now = Date.now();
        const prepared = prepareJobs(items, name, resolveConfig(await store.configGetAll()), now);
        const result = await enqueuePrepared(
          store,
          prepared,
          now,
          showProgress ? (done) => process.stderr.write(`\renqueued ${done}/${prepared.length}`) : undefined,
        );
        if (showProgress) process.stderr.write("\n");
        const ids = [...result.jobs, ...result.schedules];
        if (options.json) printJson({ enqueued: ids.length, ids, schedules: result.schedules });
        else if (result.schedules.length > 0 && result.jobs.length === 0 && ids.length === 1) {
          console.log(
            `${colors.green("✓")} Scheduled ${safeText(ids[0] ?? "")}; each occurrence runs as its own job`,
          );
        } else if (ids.length === 1)
          console.log(`${colors.green("✓")} Enqueued job ${safeText(ids[0] ?? "")}`);
        else console.log(`${colors.green("✓")} Enqueued ${ids.length} jobs`);
      });
    });
}
