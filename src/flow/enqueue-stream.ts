/**
 * Enqueueing NDJSON as it streams in: each line is validated as `enqueue` validates any
 * input and written in batches inside one store transaction, so a million jobs cost a
 * batch of memory, not a million parsed jobs, and a bad line still stores nothing.
 *
 * What is kept for the whole input: the dependency lists of jobs that have them (for the
 * cycle check), schedules (each becomes a schedule row after the jobs), and the ids only
 * when the caller asks for them. A repeated id is found by the store's unique key, not by
 * a set of every id read.
 */

import type { QueueConfig } from "../core/config.ts";
import { assertNoCycle, type JobOrigin, MissingDependencyError } from "../core/dependencies.ts";
import { DuplicateIdError, UserError } from "../core/errors.ts";
import { jobOrigin, type PreparedJob, repeatedIdError } from "../core/job-input.ts";
import { describeScheduleClaim, scheduleClaim } from "../core/occurrence-id.ts";
import { inputBytes, type LineBlock } from "../core/text-lines.ts";
import type { NewJobRow, Store } from "../store/store.ts";
import { assertSchedulesNew, type EnqueueResult, findCanceledAtOnce, storeSchedules } from "./enqueue.ts";
import { type InputFile, type PreparingThread, preparedAhead } from "./prepared-ahead.ts";
import { type PreparedLine, prepareBlock } from "./prepared-block.ts";

/**
 * From this size on, an input's lines are prepared on a thread of their own: starting one
 * costs a few milliseconds, about what preparing 5,000 lines does.
 */
const PREPARE_AHEAD_BYTES = 1 << 20;

export interface StreamedInput {
  /** For messages: the file name, or "stdin". */
  name: string;
  /** The input's lines, from the start at each call: read again to name both lines of a repeated id. */
  lines: () => AsyncIterable<LineBlock>;
  /** The file the lines are read from, when there is one a thread may read as well. */
  file?: InputFile;
}

export interface StreamOptions {
  config: QueueConfig;
  now: number;
  /** Collect every id for the result (`--json` prints them); default: count only. */
  keepIds?: boolean;
  onProgress?: (done: number) => void;
  /** Prepare the lines on a second thread (default: when the input's file holds 1 MiB or more). */
  prepareAhead?: boolean;
  /**
   * The thread to prepare them on, started early by the caller for an input that
   * `shouldPrepareAhead` (default: one started here when needed); stopped once the input ends.
   */
  preparingThread?: PreparingThread;
}

export interface StreamResult extends EnqueueResult {
  /** Jobs enqueued (not counting schedules); `jobs` lists them all only with `keepIds`, else the first. */
  count: number;
}

/** The input's blocks, each line prepared, on this thread. */
async function* preparedLines(
  input: StreamedInput,
  config: QueueConfig,
  now: number,
): AsyncGenerator<PreparedLine[]> {
  for await (const block of input.lines()) yield prepareBlock(block, input.name, config, now);
}

/** The file to prepare on a second thread, when `input` is read from one large enough. */
export function shouldPrepareAhead(
  input: StreamedInput,
  options: Pick<StreamOptions, "prepareAhead" | "preparingThread">,
): InputFile | null {
  const { file } = input;
  if (file === undefined || options.prepareAhead === false) return null;
  // A caller that started a thread has made this check already: the file is not read again.
  if (options.prepareAhead === true || options.preparingThread !== undefined) return file;
  // A file that cannot be stat'ed here is read on this thread, which reports why.
  return (inputBytes(file.path) ?? 0) >= PREPARE_AHEAD_BYTES ? file : null;
}

export async function enqueueStream(
  store: Store,
  input: StreamedInput,
  options: StreamOptions,
): Promise<StreamResult> {
  const { config, now } = options;
  const ids: string[] = [];
  const scheduled: PreparedJob[] = [];
  const scheduleLines = new Map<string, number>();
  const dependencies = new Map<string, readonly string[]>();
  // Only jobs with an `after` list: an unknown dependency names their line.
  const origins = new Map<string, JobOrigin>();
  let empty = true;
  const ahead = shouldPrepareAhead(input, options);
  const blocks = ahead
    ? preparedAhead(ahead, input.name, config, now, options.preparingThread)
    : preparedLines(input, config, now);
  async function* batches(): AsyncGenerator<NewJobRow[]> {
    let batch: NewJobRow[] = [];
    for await (const lines of blocks) {
      for (const { row, line, job } of lines) {
        empty = false;
        const { id } = row;
        const scheduleLine = scheduleLines.get(id);
        if (scheduleLine !== undefined)
          throw repeatedIdError(input.name, `line ${line}`, id, `line ${scheduleLine}`);
        if (job?.spec.schedule !== undefined) {
          scheduled.push(job as PreparedJob);
          scheduleLines.set(id, line);
          continue;
        }
        if (row.after) {
          dependencies.set(id, row.after);
          origins.set(id, jobOrigin(job as PreparedJob));
        }
        // The first id always: a one-job file is reported by its id.
        if (options.keepIds || ids.length === 0) ids.push(id);
        batch.push(row);
        if (batch.length >= store.streamBatchRows) {
          yield batch;
          batch = [];
        }
      }
    }
    if (empty)
      throw new UserError(`${input.name} is empty`, 'give a job such as {"id":"job1","command":"echo hi"}');
    if (batch.length > 0) yield batch;
    // Still inside the store's transaction: a cycle or a taken schedule id stores nothing.
    assertNoCycle(dependencies);
    if (scheduleLines.size > 0) await assertNoJobNamedLikeSchedule(input, scheduleLines, config, now);
    await assertSchedulesNew(store, scheduled);
  }
  let count: number;
  try {
    const bytes = input.file ? inputBytes(input.file.path) : undefined;
    count = await store.jobInsertStream({
      batches: batches(),
      now,
      onProgress: options.onProgress,
      inputBytes: bytes,
    });
  } catch (error) {
    // Nothing was stored; if the id is not in the store either, the input holds it twice.
    if (error instanceof DuplicateIdError) {
      const lines = await linesOfId(input, error.id, config, now);
      if (!(await store.jobGet({ id: error.id }))) throw repeatedInInput(input, error.id, lines);
      const [line] = lines;
      if (line !== undefined)
        throw new DuplicateIdError(error.id, `${input.name}, line ${line}: ${error.message}`, error.hint);
    }
    if (error instanceof MissingDependencyError) {
      // A schedule line of the input is stored after the jobs: name it as the schedule it is.
      const isSchedule = error.isSchedule || scheduleLines.has(error.dependency);
      throw error.wordedFor(origins.get(error.jobId), isSchedule);
    }
    throw error;
  }
  await storeSchedules(store, scheduled, now);
  return {
    count,
    jobs: ids,
    schedules: scheduled.map((job) => job.spec.id),
    canceledAtOnce: await findCanceledAtOnce(store, dependencies),
  };
}

/**
 * A job line may take neither the id of a schedule line of the same input nor one of that
 * schedule's occurrence ids (see core/occurrence-id.ts). Such a job line may come before the
 * schedule line, so it was written before the schedule was seen; reading the input again
 * finds it without keeping every id.
 */
async function assertNoJobNamedLikeSchedule(
  input: StreamedInput,
  scheduleLines: Map<string, number>,
  config: QueueConfig,
  now: number,
): Promise<void> {
  for await (const lines of preparedLines(input, config, now)) {
    for (const { row, line, job } of lines) {
      if (job?.spec.schedule !== undefined) continue;
      const claim = scheduleClaim(row.id, (id) => scheduleLines.has(id));
      if (claim === null) continue;
      const scheduleLine = scheduleLines.get(claim.scheduleId) as number;
      if (claim.kind === "schedule") {
        const [first, second] = line < scheduleLine ? [line, scheduleLine] : [scheduleLine, line];
        throw repeatedIdError(input.name, `line ${second}`, row.id, `line ${first}`);
      }
      const { message, why } = describeScheduleClaim(row.id, claim);
      throw new UserError(
        `${input.name}, line ${line}: job ${message} (line ${scheduleLine})`,
        `choose another id (${why}); nothing was enqueued`,
      );
    }
  }
}

/** Reads the input again for the lines that give `id`: the first two at most. */
async function linesOfId(
  input: StreamedInput,
  id: string,
  config: QueueConfig,
  now: number,
): Promise<number[]> {
  const found: number[] = [];
  for await (const lines of preparedLines(input, config, now)) {
    for (const { row, line } of lines) {
      if (row.id !== id) continue;
      found.push(line);
      if (found.length === 2) return found;
    }
  }
  return found;
}

/** An id the input gives twice, naming both lines. */
function repeatedInInput(input: StreamedInput, id: string, lines: number[]): UserError {
  const [first, second] = lines;
  if (first !== undefined && second !== undefined)
    return repeatedIdError(input.name, `line ${second}`, id, `line ${first}`);
  return new UserError(
    `${input.name}: the id "${id}" is used twice`,
    "give every job its own id; nothing was enqueued",
  );
}
