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

/**
 * Decodes input bytes. Windows tools write a byte-order mark (PowerShell's `Out-File` even
 * writes UTF-16), which JSON.parse would reject as a syntax error at the first character.
 */
function decodeInput(bytes: Uint8Array, name: string): string {
  const encoding =
    bytes[0] === 0xff && bytes[1] === 0xfe
      ? "utf-16le"
      : bytes[0] === 0xfe && bytes[1] === 0xff
        ? "utf-16be"
        : "utf-8";
  try {
    // TextDecoder drops the byte-order mark itself.
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${name} is not ${encoding.toUpperCase()} text`, "save it as UTF-8 and try again");
  }
}

function readInput(json: string | undefined, file: string | undefined): { text: string; name: string } {
  if (json !== undefined && file !== undefined) {
    throw new UserError(
      "give either a JSON argument or --file, not both",
      "queuectl enqueue '<json>'  or  queuectl enqueue -f job.json",
    );
  }
  if (file === "-") return { text: decodeInput(readFileSync(0), "stdin"), name: "stdin" };
  if (file !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(
        `cannot read ${file} (${code ?? (error as Error).message})`,
        "check the path; use -f - to read stdin",
      );
    }
    return { text: decodeInput(bytes, file), name: file };
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
      // isTTY last: touching process.stderr loads Node's streams, about 10 ms of a one-job call.
      const showProgress = items.length >= 10_000 && !options.json && Boolean(process.stderr.isTTY);
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
