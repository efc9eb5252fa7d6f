/**
 * The NDJSON format of `export` and `import`: one object per line, told apart by `kind`.
 *
 *   {"kind":"export","format":2}
 *   {"kind":"config","key":"max-retries","value":"5"}
 *   {"kind":"queue","name":"emails","concurrency":2,"paused":false}
 *   {"kind":"schedule","id":"nightly","spec":{…},"revision":…,"next_at":…,…}
 *   {"kind":"job","id":"job1","spec":{…},"state":"completed","attempts":1,…,"attempt_history":[…]}
 *   {"kind":"purged","id":"nightly-report","revisions":[{"revision":"9f…","completed_at":1764…}]}
 *   {"kind":"end","jobs":1,"attempts":1,"schedules":1,"queues":1,"config":1,"purged":1}
 *
 * Timestamps are ms since the epoch. Every field is required, so a truncated or foreign file
 * is refused line by line instead of half-imported (a job's `attempt_history` aside: older
 * exports leave it out). A file cut between two lines is still whole lines, so format 2 frames
 * them: a first line naming the format and a last line counting what lies between (see
 * export-frame.ts and import-read.ts). Format 1, older exports and every `purge --archive`
 * file, has neither.
 *
 * A `purged` line is what the store remembers of a jobfile job whose row was purged: the
 * revisions it completed (`completed_at` null for those completed before dates were kept). A
 * job line carries its own `completed_revisions`; without these lines a sync on the new store
 * would run a purged job's completed revision again. Exports older than them have none, and
 * their last line no `purged` count: it counts as 0.
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
import { resultTextProblem } from "../core/json-text.ts";
import { normalizeNotify } from "../core/notify.ts";
import { parseLimits } from "../core/resource-limits.ts";
import { type JobSpec, normalizeSpec, SpecError } from "../core/spec.ts";
import { MAX_RETRIES } from "../core/spec-fields.ts";
import type {
  AttemptRecord,
  JobRecord,
  PurgedRevisions,
  ScheduleRecord,
  StoreSettings,
} from "../store/store.ts";
import { count, type Fields, fieldError, integer, text } from "./export-fields.ts";
import { COUNTED, type ExportFrame, LATER_COUNTS, parseFrame } from "./export-frame.ts";

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
  ...LATER_COUNTS,
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

const REVISION_FIELDS: readonly string[] = ["revision", "completed_at"];

const FIELDS = {
  job: JOB_FIELDS,
  schedule: SCHEDULE_FIELDS,
  queue: ["name", "concurrency", "paused", "notify", "limits"],
  config: ["key", "value"],
  purged: ["id", "revisions"],
  export: ["format"],
  end: COUNTED,
} as const;

type Kind = keyof typeof FIELDS;
/** The kinds a reader may meet in the body of a file; the frame's two are not written by hand. */
const RECORD_KINDS = ["job", "schedule", "queue", "config", "purged"];

export function exportLine(kind: Kind, record: object): string {
  return `${JSON.stringify({ kind, ...record })}\n`;
}

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
  const attempts = count(where, fields, "attempts");
  const maxRetries = count(where, fields, "max_retries", MAX_RETRIES);
  // A job waiting to run always has a run left (a failure past max_retries makes it dead),
  // and a worker would give it one more run than max_retries allows.
  if ((state === "pending" || state === "failed") && attempts > maxRetries) {
    throw fieldError(
      where,
      "attempts",
      `${attempts} leaves a ${state} job no run under max_retries ${maxRetries}; a store never writes that`,
    );
  }
  return {
    id,
    spec: jobSpec,
    revision,
    state,
    attempts,
    max_retries: maxRetries,
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
  // What no worker would have stored: a job that reads it would get what nothing wrote.
  const problem = result === null ? null : resultTextProblem(result);
  if (problem !== null)
    throw fieldError(where, "result", `must be a result a job could store, and it ${problem}`);
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

/** Refused when empty: export writes a line only for an id that has a revision to remember. */
function purged(where: string, fields: Fields): PurgedRevisions {
  const id = text(where, fields, "id") as string;
  if (id === "") throw fieldError(where, "id", "must not be empty");
  const list = fields.revisions;
  if (!Array.isArray(list) || list.length === 0) {
    throw fieldError(where, "revisions", "must be a list of at least one completed revision");
  }
  const revisions = list.map((item, index) => {
    const at = `${where}: revisions[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new UserError(`${at} is not an object`, "import reads what `queuectl export` writes");
    }
    const entry = item as Fields;
    for (const key of Object.keys(entry)) {
      if (!REVISION_FIELDS.includes(key))
        throw fieldError(
          at,
          key,
          `is not a field of a completed revision — ${suggestion(key, REVISION_FIELDS)}`,
        );
    }
    const revision = text(at, entry, "revision") as string;
    if (revision === "") throw fieldError(at, "revision", "must not be empty");
    return { revision, at: integer(at, entry, "completed_at", true) };
  });
  return { id, revisions };
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
  return { config: {}, queues: [], schedules: [], purged: [] };
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
  if (kind === "export" || kind === "end") onFrame?.(parseFrame(where, kind, fields));
  else if (kind === "schedule") settings.schedules.push(schedule(where, fields));
  else if (kind === "queue") settings.queues.push(queue(where, fields));
  else if (kind === "purged") {
    settings.purged ??= [];
    settings.purged.push(purged(where, fields));
  } else {
    const [key, configValue] = config(where, fields);
    settings.config[key] = configValue;
  }
  return undefined;
}
