/**
 * `export` and `import`: a queue as NDJSON, one job per line, for backups and for moving a
 * queue between stores (`QUEUECTL_DB=a.db queuectl export | QUEUECTL_DB=postgres://… queuectl import`).
 *
 * Each line is a JobRecord (see store.ts): the spec, state, attempts, timestamps (ms since
 * the epoch), source, revision, and the jobfile bookkeeping, so a later sync on the new store
 * neither re-runs finished work nor forgets a removed file.
 */

import { readFileSync } from "node:fs";
import type { CAC } from "cac";
import { suggestion, UserError } from "../core/errors.ts";
import { isJobState } from "../core/job.ts";
import { normalizeSpec, SpecError } from "../core/spec.ts";
import { colors, printJson } from "../render.ts";
import type { JobRecord } from "../store/store.ts";
import { type GlobalOptions, withStore } from "./context.ts";
import { parseStateOption } from "./list.ts";

/** Jobs fetched and written per round trip. */
const EXPORT_PAGE = 1000;

const RECORD_FIELDS = [
  "id",
  "spec",
  "revision",
  "state",
  "attempts",
  "max_retries",
  "created_at",
  "updated_at",
  "next_run_at",
  "started_at",
  "finished_at",
  "exit_code",
  "last_error",
  "source",
  "declared",
  "completed_revisions",
  "canceled_by",
  "schedule_id",
] as const satisfies readonly (keyof JobRecord)[];

/** Writes without letting a slow reader (a pipe to another process) pile the whole queue up in memory. */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text, (error) => (error ? reject(error) : undefined))) resolve();
    else process.stdout.once("drain", resolve);
  });
}

function fieldError(where: string, field: string, rule: string): UserError {
  return new UserError(
    `${where}: \`${field}\` ${rule}`,
    "import reads what `queuectl export` writes; fix or remove that line",
  );
}

function integer(
  where: string,
  record: Record<string, unknown>,
  field: string,
  nullable = false,
): number | null {
  const value = record[field];
  if (nullable && value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw fieldError(where, field, nullable ? "must be a whole number or null" : "must be a whole number");
  }
  return value;
}

function text(
  where: string,
  record: Record<string, unknown>,
  field: string,
  nullable = false,
): string | null {
  const value = record[field];
  if (nullable && value === null) return null;
  if (typeof value !== "string" || value.includes("\0")) {
    throw fieldError(where, field, nullable ? "must be a string or null" : "must be a string");
  }
  return value;
}

/** Validates one exported line; every field is required, so a truncated or foreign file is refused. */
export function parseJobRecord(value: unknown, where: string): JobRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`${where}: not a JSON object`, "import reads what `queuectl export` writes");
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(RECORD_FIELDS as readonly string[]).includes(key)) {
      throw fieldError(where, key, `is not a field of an exported job — ${suggestion(key, RECORD_FIELDS)}`);
    }
  }
  for (const field of RECORD_FIELDS) {
    if (!(field in record)) throw fieldError(where, field, "is missing");
  }
  let spec: JobRecord["spec"];
  try {
    // A stored spec keeps `delay` in ms, while a bare number in user input means seconds.
    const stored = record.spec as { delay?: unknown } | null;
    const delay = typeof stored?.delay === "number" ? { delay: `${stored.delay}ms` } : {};
    spec = normalizeSpec(typeof stored === "object" && stored !== null ? { ...stored, ...delay } : stored);
  } catch (error) {
    if (error instanceof SpecError) throw new UserError(`${where}: spec: ${error.message}`, error.hint);
    throw error;
  }
  const id = text(where, record, "id") as string;
  if (spec.id !== id) throw fieldError(where, "id", `"${id}" differs from the spec's id "${spec.id}"`);
  const state = text(where, record, "state") as string;
  if (!isJobState(state) || state === "processing") {
    throw fieldError(where, "state", `"${state}" cannot be imported; export writes running jobs as pending`);
  }
  const completed = record.completed_revisions;
  if (!Array.isArray(completed) || !completed.every((revision) => typeof revision === "string")) {
    throw fieldError(where, "completed_revisions", "must be a list of strings");
  }
  if (typeof record.declared !== "boolean") throw fieldError(where, "declared", "must be true or false");
  const revision = text(where, record, "revision") as string;
  if (revision === "") throw fieldError(where, "revision", "must not be empty");
  return {
    id,
    spec,
    revision,
    state,
    attempts: integer(where, record, "attempts") as number,
    max_retries: integer(where, record, "max_retries") as number,
    created_at: integer(where, record, "created_at") as number,
    updated_at: integer(where, record, "updated_at") as number,
    next_run_at: integer(where, record, "next_run_at") as number,
    started_at: integer(where, record, "started_at", true),
    finished_at: integer(where, record, "finished_at", true),
    exit_code: integer(where, record, "exit_code", true),
    last_error: text(where, record, "last_error", true),
    source: text(where, record, "source", true),
    declared: record.declared,
    completed_revisions: completed as string[],
    canceled_by: text(where, record, "canceled_by", true),
    schedule_id: text(where, record, "schedule_id", true),
  };
}

export function parseExport(input: string, name: string): JobRecord[] {
  const records: JobRecord[] = [];
  const lines = input.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? "").trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new UserError(
        `${name}:${index + 1}: invalid JSON (${(error as Error).message})`,
        "import reads what `queuectl export` writes, one job per line",
      );
    }
    records.push(parseJobRecord(value, `${name}:${index + 1}`));
  }
  return records;
}

function readImport(file: string | undefined): { text: string; name: string } {
  if (file === undefined || file === "-") {
    if (file === undefined && process.stdin.isTTY) {
      throw new UserError(
        "no input to import",
        "give a file, or pipe one in: queuectl export | queuectl import",
      );
    }
    return { text: readFileSync(0, "utf8"), name: "stdin" };
  }
  try {
    return { text: readFileSync(file, "utf8"), name: file };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read ${file} (${code ?? (error as Error).message})`,
      "check the path; - reads stdin",
    );
  }
}

interface ExportOptions extends GlobalOptions {
  state?: string;
}

export function registerExportImport(cli: CAC): void {
  cli
    .command("export", "Write every job as NDJSON to stdout, for backups and moving a queue")
    .option("--state <state>", "Only jobs in this state (default: all); running jobs are written as pending")
    .example("queuectl export > backup.ndjson")
    .example("QUEUECTL_DB=jobs.db queuectl export | QUEUECTL_DB=postgres://db-host/queue queuectl import")
    .action(async (options: ExportOptions) => {
      const state = parseStateOption(options.state);
      await withStore(options, async (store) => {
        let after: string | null = null;
        let count = 0;
        do {
          const page: { jobs: JobRecord[]; next: string | null } = await store.jobExport({
            state,
            after,
            limit: EXPORT_PAGE,
          });
          if (page.jobs.length > 0)
            await writeOut(page.jobs.map((job) => `${JSON.stringify(job)}\n`).join(""));
          count += page.jobs.length;
          after = page.next;
        } while (after !== null);
        if (process.stderr.isTTY) process.stderr.write(`${colors.green("✓")} Exported ${count} jobs\n`);
      });
    });

  cli
    .command("import [file]", "Add jobs written by `queuectl export`, all or nothing (- or no file: stdin)")
    .option("--json", "Print the number of imported jobs as JSON (default: human text)")
    .example("queuectl import backup.ndjson")
    .action(async (file: string | undefined, options: GlobalOptions) => {
      const { text: input, name } = readImport(file === undefined ? undefined : String(file));
      const jobs = parseExport(input, name);
      if (jobs.length === 0)
        throw new UserError(`${name} holds no jobs`, "export some with `queuectl export`");
      const showProgress = Boolean(process.stderr.isTTY) && jobs.length >= 10_000 && !options.json;
      await withStore(options, async (store) => {
        await store.jobImportMany({
          jobs,
          onProgress: showProgress
            ? (done) => process.stderr.write(`\rimported ${done}/${jobs.length}`)
            : undefined,
        });
      });
      if (showProgress) process.stderr.write("\n");
      if (options.json) printJson({ imported: jobs.length });
      else console.log(`${colors.green("✓")} Imported ${jobs.length} jobs`);
    });
}
