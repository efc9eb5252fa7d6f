/**
 * `export` and `import`: a queue as NDJSON (see export-format.ts), for backups and for moving
 * a queue between stores (`QUEUECTL_DB=a.db queuectl export | QUEUECTL_DB=postgres://… queuectl import`).
 *
 * Jobs carry their spec, state, attempts and attempt history, timestamps, source, revision
 * and the jobfile bookkeeping, so a later sync on the new store neither re-runs finished
 * work nor forgets a removed file; config values, queue settings and schedules travel with
 * them, and so do the revisions of purged jobfile jobs, which no job line carries. `import
 * --merge` adds what the store lacks, skips ids it already has and keeps its config and queue
 * settings. The reading and checking of the lines is flow/import-read.ts's.
 */

import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { canceledAtOnceWarnings } from "../core/dependencies.ts";
import { DuplicateIdError, runtimeError, UserError } from "../core/errors.ts";
import { missingDependencyWarnings } from "../core/import-waits.ts";
import { historyById } from "../core/reconcile.ts";
import { limitsText } from "../core/resource-limits.ts";
import { inputBytes, inputChunks, spoolIfPipe, textLines } from "../core/text-lines.ts";
import { findCanceledAtOnce } from "../flow/enqueue.ts";
import { exportLine } from "../flow/export-format.ts";
import { EXPORT_FORMAT, type ExportCounts, exportCounts } from "../flow/export-frame.ts";
import { checkSomethingToImport, IMPORT_BATCH, importBatches } from "../flow/import-read.ts";
import { colors, printJson, safeText } from "../render.ts";
import type { JobRecord, Store } from "../store/store.ts";
import { type GlobalOptions, parseStateOption, warnEach, withExistingStore, withStore } from "./context.ts";

/** Jobs fetched and written per round trip. */
const EXPORT_PAGE = 1000;
const FIRST_EXPORT_PAGE = 100;
const MIN_EXPORT_PAGE = 10;
const EXPORT_PAGE_BYTES = 1024 * 1024;

/**
 * The failed write's callback rejects with the very error the stream then emits as 'error';
 * unheard, that event would surface as an uncaught exception and report it a second time.
 */
function ignoreStreamError(): void {}

/**
 * Writes and waits until the text is written: a slow reader (a pipe to another process) never
 * lets the whole queue pile up in memory, and a failed write is known before the export ends.
 */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(exportWriteError(error)) : resolve()));
  });
}

/**
 * A reader that stops early ends other commands quietly (`list | head`), but an export it
 * cuts short is a backup that failed, and must never look like one that worked.
 */
function exportWriteError(error: Error): Error {
  if ((error as NodeJS.ErrnoException).code !== "EPIPE") return error;
  return runtimeError(
    "the export's reader closed the pipe before the last line (EPIPE): what it got is incomplete",
    "let the reader take every line (`| head` stops early), or write to a file: queuectl export > backup.ndjson",
  );
}

/** Config values, queue settings and schedules: everything a queue is besides its jobs. */
async function writeSettings(store: Store, counts: ExportCounts): Promise<void> {
  const config = Object.entries(await store.configGetAll());
  const notify = new Map((await store.queueNotifyList()).map((queue) => [queue.name, queue.notify]));
  const limits = new Map(Object.entries(await store.queueLimitsList()));
  const queues = (await store.queueList())
    .filter(
      ({ name, concurrency, paused }) =>
        concurrency !== null || paused || notify.has(name) || limits.has(name),
    )
    .map(({ name, concurrency, paused }) => ({
      name,
      concurrency,
      paused,
      ...(notify.has(name) ? { notify: notify.get(name) } : {}),
      ...(limits.has(name) ? { limits: JSON.parse(limitsText(limits.get(name))) } : {}),
    }));
  const schedules = await store.scheduleList();
  counts.config = config.length;
  counts.queues = queues.length;
  counts.schedules = schedules.length;
  await writeOut(
    [
      ...config.map(([key, value]) => exportLine("config", { key, value })),
      ...queues.map((queue) => exportLine("queue", queue)),
      ...schedules.map((schedule) => exportLine("schedule", schedule)),
    ].join(""),
  );
}

/**
 * Every job, a page at a time, counted as written. A page is sized by bytes as well as rows:
 * a job carries its result (up to 64 KiB), and a thousand such jobs held at once, with their
 * lines, would be far past the memory a bulk export may take. The first page is small; the
 * next ones hold about EXPORT_PAGE_BYTES of lines, at most EXPORT_PAGE jobs.
 */
async function writeJobs(store: Store, state: JobRecord["state"] | undefined, counts: ExportCounts) {
  let after: string | null = null;
  let limit = FIRST_EXPORT_PAGE;
  do {
    const page: { jobs: JobRecord[]; next: string | null } = await store.jobExport({ state, after, limit });
    const text = page.jobs.map((job) => exportLine("job", job)).join("");
    if (page.jobs.length > 0) {
      await writeOut(text);
      const bytesPerJob = text.length / page.jobs.length;
      limit = Math.max(MIN_EXPORT_PAGE, Math.min(EXPORT_PAGE, Math.floor(EXPORT_PAGE_BYTES / bytesPerJob)));
    }
    counts.jobs += page.jobs.length;
    for (const job of page.jobs) counts.attempts += job.attempt_history.length;
    after = page.next;
  } while (after !== null);
}

/**
 * What the store remembers of purged jobfile jobs, one line per id. Read after the jobs, so a
 * job purged while they were paged is still carried, here if not there (a line of each imports
 * as one).
 */
async function writePurged(store: Store, counts: ExportCounts): Promise<void> {
  const byId = historyById(await store.purgedRevisionList());
  const lines = [...byId].map(([id, revisions]) =>
    exportLine("purged", {
      id,
      revisions: revisions.map(({ revision, at }) => ({ revision, completed_at: at })),
    }),
  );
  counts.purged = lines.length;
  await writeOut(lines.join(""));
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
      TEXT_OPTION,
    )
    // Taken as every read command takes it: the export is JSON already, so it changes nothing.
    .option("--json", "Accepted like other read commands' --json (default: NDJSON, the only form)")
    .example("queuectl export > backup.ndjson")
    .example("QUEUECTL_DB=jobs.db queuectl export | QUEUECTL_DB=postgres://db-host/queue queuectl import")
    .action(async (options: ExportOptions) => {
      const state = parseStateOption(options.state);
      if (!process.stdout.listeners("error").includes(ignoreStreamError))
        process.stdout.on("error", ignoreStreamError);
      await withExistingStore(options, async (store) => {
        const counts = exportCounts();
        // Framed by a first and a last line, so that a copy cut between two lines is refused.
        await writeOut(exportLine("export", { format: EXPORT_FORMAT }));
        if (state === undefined) await writeSettings(store, counts);
        await writeJobs(store, state, counts);
        if (state === undefined) await writePurged(store, counts);
        // A count of 0 is left out: such a file still imports into the release before it.
        const { purged, ...earlier } = counts;
        await writeOut(exportLine("end", purged === 0 ? earlier : counts));
        if (process.stderr.isTTY) process.stderr.write(`${colors.green("✓")} Exported ${counts.jobs} jobs\n`);
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
      const showProgress = Boolean(process.stderr.isTTY) && !options.json;
      const hint = "check the path; - reads stdin";
      const source = await spoolIfPipe(path, hint);
      const lines = () => textLines(inputChunks(source.path, hint), name);
      const result = await withStore(
        options,
        async (store) => {
          const imported = await store
            .jobImportStream({
              batches: importBatches(lines(), name, Boolean(options.merge)),
              merge: Boolean(options.merge),
              inputBytes: inputBytes(source.path),
              // A job canceled as it comes in (its dependency ended badly) is stamped on the store's clock.
              now: await store.clockNow(),
              onProgress: showProgress
                ? (done) => {
                    if (done >= IMPORT_BATCH) process.stderr.write(`\rimported ${done}`);
                  }
                : undefined,
            })
            .catch(async (error: unknown) => {
              // Nothing was imported; if the store lacks the id too, the input holds it twice
              // (a `purge --archive` file appended to more than once, say).
              const taken = async (id: string) =>
                (await store.jobGet({ id })) !== null || (await store.scheduleGet({ id })) !== null;
              if (error instanceof DuplicateIdError && !(await taken(error.id)))
                throw new UserError(
                  `${name}: job id "${safeText(error.id)}" is in the input twice`,
                  "keep one line of each job (for an archive appended twice, the newer one); nothing was imported",
                );
              throw error;
            });
          // Said as enqueue says it, naming the dependency and what makes the job wait again.
          const canceled = await findCanceledAtOnce(store, new Map(imported.canceledAtOnce));
          return { ...imported, warnings: canceledAtOnceWarnings(canceled) };
        },
        { beforeCreate: () => checkSomethingToImport(lines(), name) },
      ).finally(source.cleanup);
      if (showProgress && result.jobsImported + result.jobsSkipped >= IMPORT_BATCH)
        process.stderr.write("\n");
      warnEach([...missingDependencyWarnings(result.missingDependencies), ...result.warnings]);
      if (options.json) {
        printJson({
          imported: result.jobsImported,
          jobs: result.jobsImported,
          schedules: result.schedulesImported,
          queues: result.queuesImported,
          config: result.configImported,
          skipped: {
            jobs: result.jobsSkipped,
            schedules: result.schedulesSkipped,
            occurrences: result.jobsSkippedAsOccurrences,
          },
        });
        return;
      }
      const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
      const extra =
        result.schedulesImported > 0 ? ` and ${plural(result.schedulesImported, "schedule")}` : "";
      const present = result.jobsSkipped - result.jobsSkippedAsOccurrences;
      const skipped = [
        ...(present > 0 || (options.merge && result.jobsSkippedAsOccurrences === 0)
          ? [plural(present, "job")]
          : []),
        ...(result.schedulesSkipped > 0 ? [plural(result.schedulesSkipped, "schedule")] : []),
      ];
      const inStore = skipped.length > 0 ? `; skipped ${skipped.join(" and ")} already in the store` : "";
      const occurrences =
        result.jobsSkippedAsOccurrences > 0
          ? `; skipped ${plural(result.jobsSkippedAsOccurrences, "job")} whose id is an occurrence of one of its schedules`
          : "";
      // Through the stream, not console.log, which drops a failed write (a full disk) unseen.
      process.stdout.write(
        `${colors.green("✓")} Imported ${plural(result.jobsImported, "job")}${extra}${inStore}${occurrences}\n`,
      );
    });
}
