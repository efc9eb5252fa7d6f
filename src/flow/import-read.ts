/**
 * `import`'s reading of an export: its lines as store batches, checked as they stream in, and
 * the export's frame checked too, so a backup cut off between two lines is refused like one
 * cut mid-line instead of importing whatever came before the cut.
 *
 * A format-2 export opens with `{"kind":"export",…}` and ends with `{"kind":"end",…}`, which
 * counts the lines between. Lines outside a frame are read as format 1, which earlier releases
 * wrote and `purge --archive` still appends: nothing tells where such a file should end. Frames
 * may follow one another (`cat a.ndjson b.ndjson | queuectl import`), each checked on its own;
 * an id they both hold is named as in the input twice, not as one the store holds.
 */

import { UserError } from "../core/errors.ts";
import type { LineBlock } from "../core/text-lines.ts";
import { safeText } from "../render.ts";
import type { ImportBatch, JobRecord, StoreSettings } from "../store/store.ts";
import { emptySettings, parseExportLine } from "./export-format.ts";
import { COUNTED, type ExportCounts, type ExportFrame, exportCounts } from "./export-frame.ts";

/** Jobs per store batch of a streamed import. */
export const IMPORT_BATCH = 5000;
/** Line bytes per store batch: jobs that carry results (up to 64 KiB each) end a batch sooner. */
const IMPORT_BATCH_BYTES = 2 * 1024 * 1024;

const NOUNS: Record<keyof ExportCounts, [one: string, many: string]> = {
  jobs: ["job", "jobs"],
  attempts: ["attempt", "attempts"],
  schedules: ["schedule", "schedules"],
  queues: ["queue setting", "queue settings"],
  config: ["config value", "config values"],
  purged: ["purged job", "purged jobs"],
};

function counted(counts: ExportCounts, fields: readonly (keyof ExportCounts)[]): string {
  return fields.map((field) => `${counts[field]} ${NOUNS[field][counts[field] === 1 ? 0 : 1]}`).join(", ");
}

/**
 * The hint of a refused frame: the source can export again. A lone copy can still be read
 * as far as it goes, once the frame lines named are gone (the rest is then read as format 1).
 */
function cutHint(frameLines: string): string {
  return `export it again from the source store; to restore only what this copy holds, delete ${frameLines} and import it again`;
}

/** Follows the frames of one input, in order; lines are numbered from 1. */
class ExportFrameCheck {
  /** The open frame: the line of its first line, and what was read since. */
  private open: { line: number; counts: ExportCounts } | null = null;

  constructor(private readonly name: string) {}

  frame(frame: ExportFrame, line: number): void {
    const where = `${this.name}:${line}`;
    if (frame.kind === "export") {
      if (this.open) {
        throw new UserError(
          `${where}: an export starts before the one from line ${this.open.line} ended, so that one was cut off`,
          cutHint(`line ${this.open.line}`),
        );
      }
      this.open = { line, counts: exportCounts() };
      return;
    }
    if (!this.open) {
      throw new UserError(
        `${where}: the last line of an export, but no export started (its first line is \`{"kind":"export",…}\`)`,
        "the file was cut at its start or pieced together; export it again",
      );
    }
    const { counts } = this.open;
    const wrong = COUNTED.filter((field) => frame.counts[field] !== counts[field]);
    if (wrong.length > 0) {
      throw new UserError(
        `${where}: the export says it holds ${counted(frame.counts, wrong)}, but lines ${this.open.line}–${line} hold ${counted(counts, wrong)}: lines were lost or added`,
        cutHint(`lines ${this.open.line} and ${line}`),
      );
    }
    this.open = null;
  }

  /** Counts a job or a setting read inside a frame. */
  add(field: keyof ExportCounts, count = 1): void {
    if (this.open) this.open.counts[field] += count;
  }

  /** After the last line: an export still open was cut off. */
  end(lastLine: number): void {
    if (!this.open) return;
    throw new UserError(
      `${this.name} ends at line ${lastLine} without the last line of the export that starts at line ${this.open.line}: the file was cut off`,
      cutHint(this.open.line === 1 ? "its first line" : `line ${this.open.line}`),
    );
  }
}

function nothingToImport(name: string): UserError {
  return new UserError(`${name} holds nothing to import`, "write one with `queuectl export`");
}

/**
 * Refuses input that cannot be read, holds only blank lines, or whose first line is no line
 * of an export (an enqueue file, say), reading no further than that line.
 */
export async function checkSomethingToImport(lines: AsyncIterable<LineBlock>, name: string): Promise<void> {
  for await (const block of lines) {
    const index = block.lines.findIndex((line) => line.trim() !== "");
    if (index < 0) continue;
    const number = block.first + index;
    const check = new ExportFrameCheck(name);
    parseExportLine(block.lines[index]?.trim() ?? "", `${name}:${number}`, emptySettings(), (frame) =>
      check.frame(frame, number),
    );
    return;
  }
  throw nothingToImport(name);
}

/**
 * The export's lines as store batches, validated as they stream in: a batch of jobs at a time
 * is in memory, never the whole file. Settings travel with the batch after them. A refused
 * frame throws before the last batch is handed on, so the store's transaction never commits.
 */
export async function* importBatches(
  lines: AsyncIterable<LineBlock>,
  name: string,
  /** `import --merge`: what the store holds is skipped, so a schedule given twice is too. */
  merge = false,
): AsyncGenerator<ImportBatch> {
  const check = new ExportFrameCheck(name);
  let batch = { jobs: [] as JobRecord[], settings: emptySettings() };
  // Settings land here first, one line at a time, so each line is counted as export counted it.
  const read = emptySettings();
  let empty = true;
  let last = 0;
  let batchBytes = 0;
  // The line of each schedule id: a repeat would reach the store as one it already has.
  const scheduleLines = new Map<string, number>();
  for await (const block of lines) {
    for (const [index, raw] of block.lines.entries()) {
      const line = raw.trim();
      if (line === "") continue;
      last = block.first + index;
      const job = parseExportLine(line, `${name}:${last}`, read, (frame) => check.frame(frame, last));
      empty = false;
      if (job) {
        batch.jobs.push(job);
        batchBytes += line.length;
        check.add("jobs");
        check.add("attempts", job.attempt_history.length);
      } else {
        if (!merge) for (const { id } of read.schedules) repeatedSchedule(scheduleLines, id, name, last);
        moveSettings(read, batch.settings, check);
      }
    }
    if (batch.jobs.length >= IMPORT_BATCH || batchBytes >= IMPORT_BATCH_BYTES) {
      yield batch;
      batch = { jobs: [], settings: emptySettings() };
      batchBytes = 0;
    }
  }
  if (empty) throw nothingToImport(name);
  check.end(last);
  yield batch;
}

/**
 * A schedule id a second time in one input (a hand-edited export, or exports of earlier
 * releases put together): said as a repeated job id is, not as an id the store holds. Job ids
 * are left to the store: `--merge` keeps the last line of a job an archive holds twice.
 */
function repeatedSchedule(lines: Map<string, number>, id: string, name: string, line: number): void {
  const first = lines.get(id);
  if (first === undefined) {
    lines.set(id, line);
    return;
  }
  throw new UserError(
    `${name}:${line}: schedule id "${safeText(id)}" is in the input twice (first at line ${first})`,
    "keep one line of each schedule; nothing was imported",
  );
}

function moveSettings(from: StoreSettings, to: StoreSettings, check: ExportFrameCheck): void {
  check.add("schedules", from.schedules.length);
  check.add("queues", from.queues.length);
  check.add("config", Object.keys(from.config).length);
  to.schedules.push(...from.schedules);
  to.queues.push(...from.queues);
  Object.assign(to.config, from.config);
  from.schedules.length = 0;
  from.queues.length = 0;
  if (from.purged && from.purged.length > 0) {
    check.add("purged", from.purged.length);
    to.purged ??= [];
    to.purged.push(...from.purged);
    from.purged.length = 0;
  }
  for (const key of Object.keys(from.config)) delete from.config[key];
}
