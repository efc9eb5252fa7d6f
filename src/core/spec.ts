/**
 * Job specs: what a user declares, validated and normalized exactly as DESIGN.md's Job
 * table says. Every error names the field and the rule, and unknown fields suggest the
 * nearest known one, so a typo never passes silently.
 */

import { HORIZON_TEXT, MAX_DURATION_MS, parseDurationMs } from "./duration.ts";
import { keyInMessage, nearestName, SpecError, suggestion, UserError } from "./errors.ts";
import {
  execSizeProblem,
  MAX_ARGUMENT_BYTES,
  MAX_EXEC_BYTES,
  MAX_PATH_BYTES,
  pathTooLong,
} from "./exec-limits.ts";
import { normalizeFlowFields } from "./flow-spec.ts";
import { isQueueName, QUEUE_NAME_RULE } from "./job.ts";
import { loneSurrogateAt } from "./json-text.ts";
import { normalizeNotify } from "./notify.ts";
import { isEmpty, parseLimits, type ResourceLimits } from "./resource-limits.ts";
import {
  CONTROL_CHARACTERS,
  CONTROL_RANGES,
  INVISIBLE_PAIRS,
  INVISIBLE_RANGES,
  inSpecFieldOrder,
  type JobSpec,
  MAX_ID_LENGTH,
  MAX_RETRIES,
  SPEC_FIELDS,
} from "./spec-fields.ts";

export { canonicalJson, specRevision } from "./revision.ts";
export type { JobSpec } from "./spec-fields.ts";
export { SPEC_FIELDS } from "./spec-fields.ts";
export { SpecError };

/** Either kind, in one test that nearly every id passes: each id of a bulk enqueue is checked. */
const UNPRINTABLE_CHARACTERS = new RegExp(`[${CONTROL_RANGES}${INVISIBLE_RANGES}]|${INVISIBLE_PAIRS}`);

function fail(field: string, rule: string, hint: string): never {
  throw new SpecError(`\`${field}\` ${rule}`, hint, field);
}

/** Limits are parsed in resource-limits.ts; its errors name the field (`limits.memory`). */
function normalizeLimits(value: unknown): ResourceLimits | undefined {
  try {
    const limits = parseLimits(value);
    return isEmpty(limits) ? undefined : limits;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    const field = /^\S+/.exec(error.message)?.[0] ?? "limits";
    throw new SpecError(error.message.replace(field, `\`${field}\``), error.hint, field);
  }
}

/** Durations are parsed in duration.ts; this re-raises its error as a SpecError naming the field. */
function durationMs(field: string, value: unknown): number {
  try {
    return parseDurationMs(value, `\`${field}\``);
  } catch (error) {
    if (error instanceof UserError) throw new SpecError(error.message, error.hint, field);
    throw error;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function normalizeId(value: unknown): string {
  const id = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value))
    fail("id", "is a number too large to keep exactly", `write it as a string, in quotes: "id": "${value}"`);
  if (typeof id !== "string") fail("id", "must be a string", 'e.g. "id": "backup-nightly"');
  if (id.trim() === "") fail("id", "must not be empty", "give the job a name or leave `id` out");
  if (id.length > MAX_ID_LENGTH) fail("id", `is longer than ${MAX_ID_LENGTH} characters`, "use a shorter id");
  if (UNPRINTABLE_CHARACTERS.test(id)) {
    if (CONTROL_CHARACTERS.test(id))
      fail("id", "contains control characters", "use printable characters only");
    // Text that prints as another id, or as nothing: no one could type it back from `list`.
    fail(
      "id",
      "contains invisible formatting characters (bidi, zero-width, soft hyphen, variation selector, filler)",
      "use printable characters only",
    );
  }
  if (id.trim() !== id)
    fail("id", `"${id}" starts or ends with white space`, `write it without: "${id.trim()}"`);
  // Every command that takes an id reads it as an argument, where a leading "-" is an option.
  if (id.startsWith("-")) fail("id", `"${id}" starts with "-"`, "start it with a letter or digit");
  // A URL path reads "." and ".." as steps, so the REST API could never name such a job.
  if (id === "." || id === "..")
    fail("id", `"${id}" is a path step, not a name`, 'give the job a name, e.g. "build"');
  return id;
}

function normalizeCommand(value: unknown): string | string[] {
  if (typeof value === "string") {
    if (value.trim() === "") fail("command", "must not be empty", 'e.g. "command": "echo hello"');
    if (value.includes("\0")) fail("command", "contains a NUL byte", "remove it from the command");
    return value;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) fail("command", "must not be an empty list", 'e.g. "command": ["echo", "hello"]');
    for (const part of value) {
      if (typeof part !== "string")
        fail("command", "must be a list of strings", 'quote numbers: ["sleep", "5"]');
      if (part.includes("\0")) fail("command", "contains a NUL byte", "remove it from the command");
    }
    if ((value[0] as string) === "") fail("command", "must start with a program name", 'e.g. ["echo", "hi"]');
    return value as string[];
  }
  if (value === undefined) fail("command", "is required", 'e.g. "command": "echo hello"');
  fail("command", "must be a string or a list of strings", 'e.g. "command": "echo hello"');
}

function normalizeInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) fail(field, "must be a whole number", `e.g. 3`);
  if (value < min || value > max)
    fail(
      field,
      `must be between ${min} and ${max}, got ${value}`,
      `the nearest it can be is ${value < min ? min : max}`,
    );
  return value;
}

// A date, optionally with a time and an offset. Date.parse alone would also take "1" or
// "Jan 5", so a typo could silently schedule a job decades away.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;

function normalizeRunAt(value: unknown, now: number): string {
  const text = value instanceof Date ? value.toISOString() : value;
  if (typeof text !== "string") fail("run_at", "must be an ISO-8601 time", 'e.g. "2030-01-01T09:00:00Z"');
  const ms = ISO_8601.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(ms)) fail("run_at", `"${text}" is not an ISO-8601 time`, 'e.g. "2030-01-01T09:00:00Z"');
  // Date.parse rolls 2026-02-30 over into March; a date that does not exist is a typo.
  const [year, month, day] = text.trim().slice(0, 10).split("-").map(Number);
  const calendar = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1));
  if (calendar.getUTCMonth() !== (month ?? 1) - 1 || calendar.getUTCDate() !== day) {
    fail("run_at", `"${text}" is not a date on the calendar`, 'e.g. "2030-01-01T09:00:00Z"');
  }
  if (ms > now + MAX_DURATION_MS)
    fail(
      "run_at",
      `"${text}" is more than ${HORIZON_TEXT} away`,
      `use a time within ${HORIZON_TEXT} from now`,
    );
  return new Date(ms).toISOString();
}

function normalizeStringMap(field: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value))
    fail(field, "must be a mapping of names to values", 'e.g. "env": {"MODE": "fast"}');
  // No prototype: a key named __proto__ must be kept (or refused), never silently dropped.
  const result: Record<string, string> = Object.create(null);
  for (const key of Object.keys(value).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      fail(
        `${field}.${key}`,
        "is not a valid environment variable name",
        "use letters, digits and _, not starting with a digit",
      );
    }
    const item = value[key];
    if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean") {
      fail(`${field}.${key}`, "must be a string, number or boolean", 'e.g. "MODE": "fast"');
    }
    // 12345678901234567890 would become "12345678901234567000", 1e400 "Infinity".
    if (
      typeof item === "number" &&
      (!Number.isFinite(item) || (Number.isInteger(item) && !Number.isSafeInteger(item)))
    )
      fail(
        `${field}.${key}`,
        "is a number that cannot be kept as written",
        `write it as a string, in quotes: "${key}": "…"`,
      );
    const text = String(item);
    if (text.includes("\0")) fail(`${field}.${key}`, "contains a NUL byte", "remove it");
    result[key] = text;
  }
  return result;
}

function normalizeTags(value: unknown): string[] {
  if (!Array.isArray(value)) fail("tags", "must be a list of strings", 'e.g. "tags": ["nightly"]');
  const tags = new Set<string>();
  for (const tag of value) {
    if (typeof tag !== "string" || tag.trim() === "")
      fail("tags", "must hold non-empty strings", 'e.g. ["nightly"]');
    if (CONTROL_CHARACTERS.test(tag))
      fail("tags", "contain control characters", "use printable characters only");
    tags.add(tag);
  }
  return [...tags].sort();
}

function normalizeQueue(value: unknown): string {
  if (!isQueueName(value)) {
    fail("queue", `must be a name of ${QUEUE_NAME_RULE}`, 'e.g. "queue": "emails"');
  }
  return value;
}

export interface NormalizeOptions {
  /** Generates an id when the spec has none (ad hoc jobs); jobfiles always pass one. */
  generateId?: () => string;
  /** The clock `run_at` is checked against (default: Date.now()). */
  now?: number;
}

/** Refuses what the operating system would refuse to exec on every attempt (see exec-limits.ts). */
function checkExecSize(spec: JobSpec): void {
  const problem = execSizeProblem(spec.command, spec.env);
  if (problem === null) return;
  const size = (bytes: number) => `${bytes.toLocaleString("en-US")} bytes`;
  const perString = `the ${size(MAX_ARGUMENT_BYTES)} (128 KiB) the system allows`;
  if (problem.kind === "argument")
    fail(
      "command",
      `${typeof spec.command === "string" ? "is" : "has an argument of"} ${size(problem.bytes)}, over ${perString} for one argument`,
      "put the script or data in a file and pass its path",
    );
  if (problem.kind === "env")
    fail(
      `env.${problem.name}`,
      `is ${size(problem.bytes)}, over ${perString} for one variable`,
      "pass large data through a file",
    );
  fail(
    "command",
    `${spec.env ? "and `env` together take" : "takes"} ${size(problem.bytes)}, over the ${size(MAX_EXEC_BYTES)} (1 MiB) a job may pass to exec`,
    "pass large data through a file",
  );
}

/** Validates `input` and returns the normalized spec, or throws a SpecError. */
export function normalizeSpec(input: unknown, options: NormalizeOptions = {}): JobSpec {
  if (!isPlainObject(input)) {
    throw new SpecError("a job must be a JSON object", `e.g. {"id":"job1","command":"echo hi"}`);
  }
  for (const key of Object.keys(input)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(key)) {
      // `jobz:` or `job:` over a list: the one name near it is the list's own, not a field.
      const list = nearestName(key, SPEC_FIELDS) === undefined && nearestName(key, ["jobs"]) !== undefined;
      // A jobfile's declaration may hold `matrix`, which sync expands; a job itself never does.
      const hint =
        key === "matrix"
          ? "`matrix` belongs in a jobfile, which `queuectl sync` expands into one job per combination; here give each job in full"
          : list
            ? "did you mean `jobs`, the list of jobs?"
            : suggestion(key, SPEC_FIELDS);
      throw new SpecError(`${keyInMessage(key)} is not a job field`, hint, key);
    }
  }
  const unpaired = loneSurrogateAt(input, "");
  if (unpaired !== null) {
    fail(
      unpaired.slice(1),
      "holds a lone UTF-16 surrogate (such as \\ud800), which is not text",
      "write the character itself, or its \\u escape as a pair (\\ud83d\\ude00 for 😀)",
    );
  }
  if (input.state !== undefined && input.state !== "pending") {
    fail("state", 'can only be "pending" when a job is enqueued', "remove the field");
  }

  // `id:` with nothing after it (null) is the same as leaving it out, as the schema says.
  const rawId = input.id ?? options.generateId?.();
  if (rawId === undefined) fail("id", "is required", 'e.g. "id": "backup-nightly"');
  const spec: JobSpec = { id: normalizeId(rawId), command: normalizeCommand(input.command) };

  if (input.max_retries !== undefined)
    spec.max_retries = normalizeInteger("max_retries", input.max_retries, 0, MAX_RETRIES);
  if (input.timeout !== undefined) {
    const ms = durationMs("timeout", input.timeout);
    // Durations are whole milliseconds: 0.0001 s is as much zero as 0 is.
    if (ms <= 0) fail("timeout", "must be at least 1 ms", 'e.g. "timeout": "5m"');
    spec.timeout = ms / 1000;
  }
  if (input.priority !== undefined) {
    const priority = normalizeInteger("priority", input.priority, -1_000_000, 1_000_000);
    if (priority !== 0) spec.priority = priority;
  }
  if (input.run_at !== undefined && input.delay !== undefined) {
    fail("run_at", "and `delay` cannot both be set", "keep one of them");
  }
  if (input.run_at !== undefined) spec.run_at = normalizeRunAt(input.run_at, options.now ?? Date.now());
  if (input.delay !== undefined) {
    const ms = durationMs("delay", input.delay);
    if (ms > 0) spec.delay = ms;
  }
  if (input.cwd !== undefined) {
    if (typeof input.cwd !== "string" || input.cwd === "" || input.cwd.includes("\0")) {
      fail("cwd", "must be a folder path", 'e.g. "cwd": "/srv/app"');
    }
    if (pathTooLong(input.cwd))
      fail("cwd", `is longer than the ${MAX_PATH_BYTES} bytes a path may have`, "use a shorter path");
    spec.cwd = input.cwd;
  }
  if (input.env !== undefined) {
    const env = normalizeStringMap("env", input.env);
    if (Object.keys(env).length > 0) spec.env = env;
  }
  if (input.tags !== undefined) {
    const tags = normalizeTags(input.tags);
    if (tags.length > 0) spec.tags = tags;
  }
  if (input.queue !== undefined) {
    const queue = normalizeQueue(input.queue);
    if (queue !== "default") spec.queue = queue;
  }
  if (input.notify !== undefined) {
    const notify = normalizeNotify(input.notify);
    if (notify.length > 0) spec.notify = notify;
  }
  if (input.limits !== undefined) {
    const limits = normalizeLimits(input.limits);
    if (limits) spec.limits = limits;
  }
  normalizeFlowFields(input, spec);
  checkExecSize(spec);
  // Checked in the order that reads best; stored in one order every store hands back alike.
  return inSpecFieldOrder(spec);
}

/** When a freshly enqueued spec may first run. */
export function firstRunAt(spec: JobSpec, now: number): number {
  if (spec.run_at !== undefined) return Date.parse(spec.run_at);
  return now + (spec.delay ?? 0);
}

/** The columns a job's row keeps beside its spec, as every writer derives them. */
export function specColumns(spec: JobSpec) {
  return {
    priority: spec.priority ?? 0,
    queue: spec.queue ?? "default",
    tags: spec.tags === undefined ? "[]" : JSON.stringify(spec.tags),
  };
}

/**
 * Random words for generated ids, drawn a block at a time, and the time's text kept while the
 * millisecond lasts: a UUID and a base-36 conversion per id cost a bulk enqueue of jobs
 * without ids about 4 % of its time. Same form as ever: `job-<ms in base 36>-<8 hex digits>`.
 */
const idWords = new Uint32Array(256);
let idWordsLeft = 0;
let idMs = -1;
let idMsText = "";

export function generateJobId(): string {
  const ms = Date.now();
  if (ms !== idMs) {
    idMs = ms;
    idMsText = ms.toString(36);
  }
  if (idWordsLeft === 0) {
    crypto.getRandomValues(idWords);
    idWordsLeft = idWords.length;
  }
  idWordsLeft -= 1;
  return `job-${idMsText}-${(idWords[idWordsLeft] as number).toString(16).padStart(8, "0")}`;
}
