/**
 * `export` and `import`: a queue as NDJSON (see export-format.ts), for backups and for moving
 * a queue between stores (`QUEUECTL_DB=a.db queuectl export | QUEUECTL_DB=postgres://… queuectl import`).
 *
 * Jobs carry their spec, state, attempts and attempt history, timestamps, source, revision
 * and the jobfile bookkeeping, so a later sync on the new store neither re-runs finished
 * work nor forgets a removed file; config values, queue settings and schedules travel with
 * them. `import --merge` adds what the store lacks and skips ids it already has.
 */

import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { inputChunks, type LineBlock, spoolIfPipe, textLines } from "../core/text-lines.ts";
import { emptySettings, exportLine, parseExportLine } from "../flow/export-format.ts";
import { colors, printJson } from "../render.ts";
import type { ImportBatch, JobRecord, Store } from "../store/store.ts";
import { type GlobalOptions, parseStateOption, withStore } from "./context.ts";

/** Jobs fetched and written per round trip. */
const EXPORT_PAGE = 1000;

/** Writes without letting a slow reader (a pipe to another process) pile the whole queue up in memory. */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text, (error) => (error ? reject(error) : undefined))) resolve();
    else process.stdout.once("drain", resolve);
  });
}

/** Config values, queue settings and schedules: everything a queue is besides its jobs. */
async function writeSettings(store: Store): Promise<void> {
  const config = await store.configGetAll();
  const queues = (await store.queueList()).filter((queue) => queue.concurrency !== null || queue.paused);
  const schedules = await store.scheduleList();
  await writeOut(
    [
      ...Object.entries(config).map(([key, value]) => exportLine("config", { key, value })),
      ...queues.map(({ name, concurrency, paused }) => exportLine("queue", { name, concurrency, paused })),
      ...schedules.map((schedule) => exportLine("schedule", schedule)),
    ].join(""),
  );
}

/** Jobs per store batch of a streamed import. */
const IMPORT_BATCH = 5000;

interface ImportCounts {
  jobs: number;
  queues: number;
  configKeys: Set<string>;
}

/**
 * The export's lines as store batches, validated as they stream in: a batch of jobs at a time
 * is in memory, never the whole file. Settings travel with the batch after them.
 */
async function* importBatches(
  lines: AsyncIterable<LineBlock>,
  name: string,
  counts: ImportCounts,
): AsyncGenerator<ImportBatch> {
  let batch: ImportBatch = { jobs: [], settings: emptySettings() };
  let empty = true;
  for await (const block of lines) {
    for (const [index, raw] of block.lines.entries()) {
      const line = raw.trim();
      if (line === "") continue;
      const settings = batch.settings ?? emptySettings();
      const job = parseExportLine(line, `${name}:${block.first + index}`, settings);
      empty = false;
      if (job) {
        batch.jobs.push(job);
        counts.jobs++;
      }
    }
    if (batch.jobs.length >= IMPORT_BATCH) {
      yield countSettings(batch, counts);
      batch = { jobs: [], settings: emptySettings() };
    }
  }
  if (empty) throw new UserError(`${name} holds nothing to import`, "write one with `queuectl export`");
  yield countSettings(batch, counts);
}

function countSettings(batch: ImportBatch, counts: ImportCounts): ImportBatch {
  counts.queues += batch.settings?.queues.length ?? 0;
  for (const key of Object.keys(batch.settings?.config ?? {})) counts.configKeys.add(key);
  return batch;
}

interface ImportOptions extends GlobalOptions {
  merge?: boolean;
}

interface ExportOptions extends GlobalOptions {
  state?: string;
}

export function registerExportImport(cli: CAC): void {
  cli
    .command("export", "Write the queue as NDJSON to stdout: config, queue settings, schedules and every job")
    .option(
      "--state <state>",
      "Only jobs in this state, and nothing else (default: everything); running jobs are written as pending",
    )
    .example("queuectl export > backup.ndjson")
    .example("QUEUECTL_DB=jobs.db queuectl export | QUEUECTL_DB=postgres://db-host/queue queuectl import")
    .action(async (options: ExportOptions) => {
      const state = parseStateOption(options.state);
      await withStore(options, async (store) => {
        if (state === undefined) await writeSettings(store);
        let after: string | null = null;
        let count = 0;
        do {
          const page: { jobs: JobRecord[]; next: string | null } = await store.jobExport({
            state,
            after,
            limit: EXPORT_PAGE,
          });
          if (page.jobs.length > 0) await writeOut(page.jobs.map((job) => exportLine("job", job)).join(""));
          count += page.jobs.length;
          after = page.next;
        } while (after !== null);
        if (process.stderr.isTTY) process.stderr.write(`${colors.green("✓")} Exported ${count} jobs\n`);
      });
    });

  cli
    .command("import [file]", "Restore what `queuectl export` wrote, all or nothing (- or no file: stdin)")
    .option(
      "--merge",
      "Add what the store lacks; skip job and schedule ids it has, and keep its config and queue settings (default: off, an existing id refuses the whole import)",
    )
    .option("--json", "Print what was imported as JSON (default: human text)")
    .example("queuectl import backup.ndjson")
    .example("queuectl import --merge other-host.ndjson")
    .action(async (file: string | undefined, options: ImportOptions) => {
      const path = file === undefined ? "-" : String(file);
      if (file === undefined && process.stdin.isTTY) {
        throw new UserError(
          "no input to import",
          "give a file, or pipe one in: queuectl export | queuectl import",
        );
      }
      const name = path === "-" ? "stdin" : path;
      const counts: ImportCounts = { jobs: 0, queues: 0, configKeys: new Set() };
      const showProgress = Boolean(process.stderr.isTTY) && !options.json;
      const hint = "check the path; - reads stdin";
      const source = await spoolIfPipe(path, hint);
      const result = await withStore(options, (store) =>
        store.jobImportStream({
          batches: importBatches(textLines(inputChunks(source.path, hint), name), name, counts),
          merge: Boolean(options.merge),
          onProgress: showProgress
            ? (done) => {
                if (done >= IMPORT_BATCH) process.stderr.write(`\rimported ${done}`);
              }
            : undefined,
        }),
      ).finally(source.cleanup);
      if (showProgress && counts.jobs >= IMPORT_BATCH) process.stderr.write("\n");
      if (options.json) {
        printJson({
          imported: result.jobsImported,
          jobs: result.jobsImported,
          schedules: result.schedulesImported,
          queues: counts.queues,
          config: counts.configKeys.size,
          skipped: { jobs: result.jobsSkipped, schedules: result.schedulesSkipped },
        });
        return;
      }
      const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
      const extra =
        result.schedulesImported > 0 ? ` and ${plural(result.schedulesImported, "schedule")}` : "";
      const skipped = [
        ...(result.jobsSkipped > 0 || options.merge ? [plural(result.jobsSkipped, "job")] : []),
        ...(result.schedulesSkipped > 0 ? [plural(result.schedulesSkipped, "schedule")] : []),
      ];
      console.log(
        `${colors.green("✓")} Imported ${plural(result.jobsImported, "job")}${extra}` +
          (skipped.length > 0 ? `; skipped ${skipped.join(" and ")} already in the store` : ""),
      );
    });
}
