/**
 * The lines of one block of NDJSON input, each validated as `enqueue` validates any job and
 * turned into the row both stores write. The one place this happens for streamed input,
 * whether on the main thread or ahead of it on a thread of its own (prepare-thread.ts), and
 * the form a block takes between the two: structured cloning an object per job cost more
 * than preparing it, so a block travels as one string and one array of numbers.
 */

import type { QueueConfig } from "../core/config.ts";
import { type PreparedJob, parseNdjsonLine, prepareJob } from "../core/job-input.ts";
import type { LineBlock } from "../core/text-lines.ts";
import { newJobRow } from "../store/columns.ts";
import type { NewJobRow } from "../store/records.ts";

export interface PreparedLine {
  /** The 1-based line number in the input. */
  line: number;
  row: NewJobRow;
  /**
   * The whole prepared job, only for a line with a `schedule` or an `after` list: what is
   * checked once the whole input has been read needs more of it than the row.
   */
  job: PreparedJob | null;
}

/** Each non-blank line of `block`; the first bad one throws a UserError naming its line. */
export function prepareBlock(
  block: LineBlock,
  name: string,
  config: QueueConfig,
  now: number,
): PreparedLine[] {
  const prepared: PreparedLine[] = [];
  const { lines } = block;
  for (let index = 0; index < lines.length; index++) {
    const text = (lines[index] as string).trim();
    if (text === "") continue;
    const line = block.first + index;
    const item = parseNdjsonLine(text, line, name);
    const job = prepareJob(item, name, config, now, true);
    // Written out rather than spread, which costs a bulk enqueue measurably; a streamed
    // input is enqueued by hand, so no jobfile is its source.
    const row = newJobRow(
      {
        spec: job.spec,
        revision: job.revision,
        maxRetries: job.maxRetries,
        nextRunAt: job.nextRunAt,
        source: null,
      },
      item.text !== undefined && sameFields(job.spec, item.value) ? item.text : undefined,
    );
    const whole = job.spec.schedule !== undefined || job.spec.after !== undefined;
    prepared.push({ line, row, job: whole ? job : null });
  }
  return prepared;
}

/**
 * Whether `spec` holds the very values of `value`, under the same keys in the same order:
 * then JSON.stringify writes the same text for both, and a line that already is that text
 * is stored as it is, sparing a bulk enqueue one JSON.stringify per job. Normalizing keeps
 * a value it accepts as it was, so the usual compact line passes.
 */
function sameFields(spec: object, value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const keys = Object.keys(value);
  let index = 0;
  for (const key in spec) {
    if (keys[index] !== key) return false;
    if ((spec as Record<string, unknown>)[key] !== (value as Record<string, unknown>)[key]) return false;
    index++;
  }
  return index === keys.length;
}

/** A prepared block as it crosses between threads. */
export interface PackedBlock {
  /** Per line, TEXT_FIELDS strings joined by NUL (which none of them can hold: see packBlock). */
  text: string;
  /** Per line, NUMBER_FIELDS numbers. */
  numbers: Float64Array;
  /** The lines that keep their whole job, by their place in the block. */
  whole: { index: number; job: PreparedJob }[];
}

const TEXT_FIELDS = 5;
const NUMBER_FIELDS = 4;

/**
 * A NUL never occurs in these strings: an id with a control character is refused, the
 * spec and tags are JSON.stringify's text (which escapes it), the revision is hex and a
 * queue's name is letters, digits and `_.-`. unpackBlock checks the count all the same.
 */
export function packBlock(prepared: PreparedLine[]): PackedBlock {
  const strings: string[] = new Array(prepared.length * TEXT_FIELDS);
  const numbers = new Float64Array(prepared.length * NUMBER_FIELDS);
  const whole: PackedBlock["whole"] = [];
  for (let index = 0; index < prepared.length; index++) {
    const { line, row, job } = prepared[index] as PreparedLine;
    if (row.source !== null) throw new Error("a packed block holds enqueued jobs only, which have no source");
    const at = index * TEXT_FIELDS;
    strings[at] = row.id;
    strings[at + 1] = row.specText;
    strings[at + 2] = row.revision;
    strings[at + 3] = row.queue;
    strings[at + 4] = row.tagsText;
    const number = index * NUMBER_FIELDS;
    numbers[number] = line;
    numbers[number + 1] = row.maxRetries;
    numbers[number + 2] = row.nextRunAt;
    numbers[number + 3] = row.priority;
    if (job !== null) whole.push({ index, job });
  }
  return { text: strings.join("\0"), numbers, whole };
}

export function unpackBlock(packed: PackedBlock): PreparedLine[] {
  const count = packed.numbers.length / NUMBER_FIELDS;
  if (count === 0) return [];
  const strings = packed.text.split("\0");
  if (strings.length !== count * TEXT_FIELDS)
    throw new Error(`a packed block of ${count} lines holds ${strings.length} strings`);
  const { numbers } = packed;
  const prepared: PreparedLine[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const at = index * TEXT_FIELDS;
    const number = index * NUMBER_FIELDS;
    prepared[index] = {
      line: numbers[number] as number,
      row: {
        id: strings[at] as string,
        specText: strings[at + 1] as string,
        revision: strings[at + 2] as string,
        maxRetries: numbers[number + 1] as number,
        priority: numbers[number + 3] as number,
        queue: strings[at + 3] as string,
        tagsText: strings[at + 4] as string,
        nextRunAt: numbers[number + 2] as number,
        source: null,
        after: undefined,
      },
      job: null,
    };
  }
  for (const { index, job } of packed.whole) {
    const line = prepared[index] as PreparedLine;
    line.job = job;
    line.row.after = job.spec.after;
  }
  return prepared;
}
