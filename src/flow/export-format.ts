/**
 * The NDJSON format of `export` and `import`: one object per line, told apart by `kind`.
 *
 *   {"kind":"export","format":2}
 *   {"kind":"config","key":"max-retries","value":"5"}
 *   {"kind":"queue","name":"emails","concurrency":2,"paused":false}
 *   {"kind":"schedule","id":"nightly","spec":{…},"revision":…,"next_at":…,…}
 *   {"kind":"job","id":"job1","spec":{…},"state":"completed","attempts":1,…,"attempt_history":[…]}
 *   {"kind":"end","jobs":1,"attempts":1,"schedules":1,"queues":1,"config":1}
 *
 * Timestamps are ms since the epoch. Every field is required, so a truncated or foreign file
 * is refused line by line instead of half-imported (a job's `attempt_history` aside: older
 * exports leave it out). A file cut between two lines is still whole lines, so format 2 frames
 * them: a first line naming the format and a last line counting what lies between (see
 * import-read.ts). Format 1, older exports and every `purge --archive` file, has neither.
 */

import { canonicalConfigKey, parseConfigValue } from "../core/config.ts";
import { suggestion, UserError } from "../core/errors.ts";
import {
  isJobState,
  isQueueConcurrency,
  isQueueName,
  MAX_QUEUE_CONCURRENCY,
  QUEUE_NAME_RULE,
} from "../core/job.ts";
import { normalizeNotify } from "../core/notify.ts";
import { parseLimits } from "../core/resource-limits.ts";
import { type JobSpec, normalizeSpec, SpecError } from "../core/spec.ts";
import { MAX_RETRIES } from "../core/spec-fields.ts";
import type { AttemptRecord, JobRecord, ScheduleRecord, StoreSettings } from "../store/store.ts";

const JOB_FIELDS = [
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
  "attempt_history",
  "progress_pct",
  "progress_message",
  "result",
] as const satisfies readonly (keyof JobRecord)[];

/** Fields a line may leave out: added after the format first shipped (exports of older releases). */
const OPTIONAL_FIELDS: readonly string[] = [
  "attempt_history",
  "progress_pct",
  "progress_message",
  "result",
  // A queue's webhooks and limits: written only when it has them, and absent from older exports.
  "notify",
  "limits",
];

const ATTEMPT_INTEGERS = [
  "attempt",
  "token",
  "started_at",
  "finished_at",
  "stdout_bytes",
  "stderr_bytes",
] as const;
const ATTEMPT_TEXTS = ["worker_id", "host"] as const;
const ATTEMPT_NULLABLE_TEXTS = ["signal", "error", "log_path", "output_tail"] as const;

const SCHEDULE_FIELDS = [
  "id",
  "spec",
  "revision",
  "source",
  "next_at",
  "last_at",
  "created_at",
  "updated_at",
] as const satisfies readonly (keyof ScheduleRecord)[];

/** The format `export` writes; an import refuses a higher one, written by a later release. */
export const EXPORT_FORMAT = 2;

/** What an export's last line counts; `config` counts values, `attempts` finished attempts. */
export const COUNTED = ["jobs", "attempts", "schedules", "queues", "config"] as const;
export type ExportCounts = Record<(typeof COUNTED)[number], number>;

/** The first line (`export`) or the last line (`end`) of a format-2 export. */
export type ExportFrame = { kind: "export"; format: number } | { kind: "end"; counts: ExportCounts };

const FIELDS = {
  job: JOB_FIELDS,
  schedule: SCHEDULE_FIELDS,
  queue: ["name", "concurrency", "paused", "notify", "limits"],
  config: ["key", "value"],
  export: ["format"],
  end: COUNTED,
} as const;

type Kind = keyof typeof FIELDS;
/** The kinds a reader may meet in the body of a file; the frame's two are not written by hand. */
const RECORD_KINDS = ["job", "schedule", "queue", "config"];

export function exportLine(kind: Kind, record: object): string {
  return `${JSON.stringify({ kind, ...record })}\n`;
}

export function exportCounts(): ExportCounts {
  return { jobs: 0, attempts: 0, schedules: 0, queues: 0, config: 0 };
}

type Fields = Record<string, unknown>;

function fieldError(where: string, field: string, rule: string): UserError {
  return new UserError(
    `${where}: \`${field}\` ${rule}`,
    "import reads what `queuectl export` writes; fix or remove that line",
  );
}

function integer(where: string, fields: Fields, field: string, nullable = false): number | null {
  const value = fields[field];
  if (nullable && value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw fieldError(where, field, nullable ? "must be a whole number or null" : "must be a whole number");
  }
  return value;
}

/** A count the run rules read: a worker would run a job whose counts are negative or past the bound. */
function count(where: string, fields: Fields, field: string, max?: number): number {
  const value = integer(where, fields, field) as number;
  const range = max === undefined ? "must be 0 or more" : `must be from 0 to ${max}`;
  if (value < 0 || value > (max ?? value)) throw fieldError(where, field, `${range}, got ${value}`);
  return value;
}

function text(where: string, fields: Fields, field: string, nullable = false): string | null {
  const value = fields[field];
  if (nullable && value === null) return null;
  if (typeof value !== "string") {
    throw fieldError(where, field, nullable ? "must be a string or null" : "must be a string");
  }
  if (value.includes("\0") && !PRINTED_TEXTS.has(field))
    throw fieldError(where, field, "must not hold a NUL character");
  return value;
}

/** What a job printed or wrote, kept as it came: a NUL there is output (PostgreSQL stores U+FFFD). */
const PRINTED_TEXTS = new Set(["last_error", "error", "output_tail", "progress_message"]);

function spec(where: string, fields: Fields): JobSpec {
  try {
    // A stored spec keeps `delay` in ms, while a bare number in user input means seconds.
    const stored = fields.spec;
    if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return normalizeSpec(stored);
    const { delay } = stored as { delay?: unknown };
    return normalizeSpec(typeof delay === "number" ? { ...stored, delay: `${delay}ms` } : stored);
  } catch (error) {
    if (error instanceof SpecError) throw new UserError(`${where}: spec: ${error.message}`, error.hint);
    throw error;
  }
}

function job(where: string, fields: Fields): JobRecord {
  const jobSpec = spec(where, fields);
  const id = text(where, fields, "id") as string;
  if (jobSpec.id !== id) throw fieldError(where, "id", `"${id}" differs from the spec's id "${jobSpec.id}"`);
  const state = text(where, fields, "state") as string;
  if (!isJobState(state) || state === "processing") {
    throw fieldError(where, "state", `"${state}" cannot be imported; export writes running jobs as pending`);
  }
  const completed = fields.completed_revisions;
  if (!Array.isArray(completed) || !completed.every((revision) => typeof revision === "string")) {
    throw fieldError(where, "completed_revisions", "must be a list of strings");
  }
  if (typeof fields.declared !== "boolean") throw fieldError(where, "declared", "must be true or false");
  const revision = text(where, fields, "revision") as string;
  if (revision === "") throw fieldError(where, "revision", "must not be empty");
  return {
    id,
    spec: jobSpec,
    revision,
    state,
    attempts: count(where, fields, "attempts"),
    max_retries: count(where, fields, "max_retries", MAX_RETRIES),
    created_at: integer(where, fields, "created_at") as number,
    updated_at: integer(where, fields, "updated_at") as number,
    next_run_at: integer(where, fields, "next_run_at") as number,
    started_at: integer(where, fields, "started_at", true),
    finished_at: integer(where, fields, "finished_at", true),
    exit_code: integer(where, fields, "exit_code", true),
    last_error: text(where, fields, "last_error", true),
    source: text(where, fields, "source", true),
    declared: fields.declared,
    completed_revisions: completed as string[],
    canceled_by: text(where, fields, "canceled_by", true),
    schedule_id: text(where, fields, "schedule_id", true),
    attempt_history: attemptHistory(where, fields.attempt_history),
    ...reports(where, fields),
  };
}

/** A job's progress and result, when the line has them (an archive's do). */
function reports(
  where: string,
  fields: Fields,
): Pick<JobRecord, "progress_pct" | "progress_message" | "result"> {
  if (!("result" in fields || "progress_pct" in fields || "progress_message" in fields)) return {};
  const result = fields.result === undefined ? null : text(where, fields, "result", true);
  if (result !== null) {
    try {
      JSON.parse(result);
    } catch {
      throw fieldError(where, "result", "must be JSON text or null");
    }
  }
  return {
    // A worker only ever stores 0–100 (job-reports.ts); anything else was written by hand.
    progress_pct: (fields.progress_pct ?? null) === null ? null : count(where, fields, "progress_pct", 100),
    progress_message:
      fields.progress_message === undefined ? null : text(where, fields, "progress_message", true),
    result,
  };
}

function attemptHistory(where: string, value: unknown): AttemptRecord[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw fieldError(where, "attempt_history", "must be a list of attempts");
  const tokens = new Set<number>();
  return value.map((item, index) => {
    const at = `${where}: attempt_history[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new UserError(`${at} is not an object`, "import reads what `queuectl export` writes");
    }
    const fields = item as Fields;
    const record = {
      exit_code: integer(at, fields, "exit_code", true),
    } as Record<string, unknown>;
    for (const field of ATTEMPT_INTEGERS) record[field] = integer(at, fields, field);
    for (const field of ATTEMPT_TEXTS) record[field] = text(at, fields, field);
    for (const field of ATTEMPT_NULLABLE_TEXTS) record[field] = text(at, fields, field, true);
    // Exports from before attempts recorded their revision leave it out.
    record.revision = fields.revision === undefined ? null : text(at, fields, "revision", true);
    const token = record.token as number;
    if (token < 1 || tokens.has(token))
      throw fieldError(at, "token", "must be a distinct whole number of at least 1");
    tokens.add(token);
    return record as unknown as AttemptRecord;
  });
}

function schedule(where: string, fields: Fields): ScheduleRecord {
  const scheduleSpec = spec(where, fields);
  const id = text(where, fields, "id") as string;
  if (scheduleSpec.id !== id)
    throw fieldError(where, "id", `"${id}" differs from the spec's id "${scheduleSpec.id}"`);
  if (scheduleSpec.schedule === undefined) throw fieldError(where, "spec", "has no `schedule`");
  return {
    id,
    spec: scheduleSpec,
    revision: text(where, fields, "revision") as string,
    source: text(where, fields, "source", true),
    next_at: integer(where, fields, "next_at", true),
    last_at: integer(where, fields, "last_at", true),
    created_at: integer(where, fields, "created_at") as number,
    updated_at: integer(where, fields, "updated_at") as number,
  };
}

function queue(where: string, fields: Fields): StoreSettings["queues"][number] {
  const concurrency = integer(where, fields, "concurrency", true);
  if (concurrency !== null && !isQueueConcurrency(concurrency))
    throw fieldError(where, "concurrency", `must be from 1 to ${MAX_QUEUE_CONCURRENCY} or null`);
  if (typeof fields.paused !== "boolean") throw fieldError(where, "paused", "must be true or false");
  const name = text(where, fields, "name") as string;
  // As `queue set` names them: a row no queue command could reach again is refused here.
  if (!isQueueName(name)) throw fieldError(where, "name", `must be a queue name (${QUEUE_NAME_RULE})`);
  const settings: StoreSettings["queues"][number] = {
    name,
    concurrency,
    paused: fields.paused,
  };
  // Webhooks and resource limits: absent from exports written before they were carried.
  try {
    if (fields.notify !== undefined) settings.notify = normalizeNotify(fields.notify, "notify");
    if (fields.limits !== undefined && fields.limits !== null) settings.limits = parseLimits(fields.limits);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`${where}: ${error.message}`, error.hint);
    throw error;
  }
  return settings;
}

function config(where: string, fields: Fields): [string, string] {
  try {
    const key = canonicalConfigKey(text(where, fields, "key") as string);
    return [key, parseConfigValue(key, text(where, fields, "value") as string)];
  } catch (error) {
    if (error instanceof UserError && !error.message.startsWith(where)) {
      throw new UserError(`${where}: ${error.message}`, error.hint);
    }
    throw error;
  }
}

/** Reads an export, validating every line before anything is written. */
export function parseExport(input: string, name: string): { jobs: JobRecord[]; settings: StoreSettings } {
  const jobs: JobRecord[] = [];
  const settings = emptySettings();
  const lines = input.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? "").trim();
    if (line === "") continue;
    const job = parseExportLine(line, `${name}:${index + 1}`, settings);
    if (job) jobs.push(job);
  }
  return { jobs, settings };
}

export function emptySettings(): StoreSettings {
  return { config: {}, queues: [], schedules: [] };
}

function frame(where: string, kind: "export" | "end", fields: Fields): ExportFrame {
  if (kind === "end") {
    const counts = exportCounts();
    for (const field of COUNTED) {
      const count = integer(where, fields, field) as number;
      if (count < 0) throw fieldError(where, field, "must be a whole number of at least 0");
      counts[field] = count;
    }
    return { kind, counts };
  }
  const format = integer(where, fields, "format") as number;
  if (format > EXPORT_FORMAT) {
    throw new UserError(
      `${where}: written by a later queuectl (export format ${format}; this one reads up to ${EXPORT_FORMAT})`,
      "import it with that release or a newer one",
    );
  }
  if (format < EXPORT_FORMAT) throw fieldError(where, "format", `must be ${EXPORT_FORMAT}`);
  return { kind, format };
}

/** One non-blank line: a job is returned, settings go to `settings`, a frame line to `onFrame`. */
export function parseExportLine(
  line: string,
  where: string,
  settings: StoreSettings,
  onFrame?: (frame: ExportFrame) => void,
): JobRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new UserError(
      `${where}: invalid JSON (${(error as Error).message})`,
      "import reads what `queuectl export` writes, one object per line",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`${where}: not a JSON object`, "import reads what `queuectl export` writes");
  }
  const { kind, ...fields } = value as Fields;
  if (typeof kind !== "string" || !Object.hasOwn(FIELDS, kind)) {
    throw fieldError(where, "kind", `must be one of ${RECORD_KINDS.join(", ")}`);
  }
  const known: readonly string[] = FIELDS[kind as Kind];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) {
      throw fieldError(where, key, `is not a field of an exported ${kind} — ${suggestion(key, known)}`);
    }
  }
  for (const field of known) {
    if (!(field in fields) && !OPTIONAL_FIELDS.includes(field)) throw fieldError(where, field, "is missing");
  }
  if (kind === "job") return job(where, fields);
  if (kind === "export" || kind === "end") onFrame?.(frame(where, kind, fields));
  else if (kind === "schedule") settings.schedules.push(schedule(where, fields));
  else if (kind === "queue") settings.queues.push(queue(where, fields));
  else {
    const [key, configValue] = config(where, fields);
    settings.config[key] = configValue;
  }
  return undefined;
}
