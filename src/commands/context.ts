/**
 * What command adapters share: opening the store from global flags, common lookups, option
 * parsing, and the manual state moves (`cancel`, `rerun`, `dlq retry`).
 */

import { nearestName, suggestion, UserError } from "../core/errors.ts";
import { isJobState, isQueueName, JOB_STATES, type Job, type JobState } from "../core/job.ts";
import { assertLimitsSetting } from "../core/resource-limits.ts";
import {
  type JobMoveName,
  moveJob,
  purgedDependencyWarnings,
  refusalHint,
  refusalMessage,
} from "../flow/moves.ts";
import type { Patience } from "../flow/patient-reads.ts";
import { colors, countText, printJson, safeText } from "../render.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";

export interface GlobalOptions {
  /** `--db`: the store URL or path (default: $QUEUECTL_DB, then $QUEUECTL_HOME/jobs.db). */
  db?: string;
  json?: boolean;
}

/** How withStore opens the store: the meanings of openStore's options of the same names. */
export interface StoreUse {
  /** The PostgreSQL pool (default 1); SQLite has one connection whatever it says. */
  connections?: number;
  /** Default false. */
  mustExist?: boolean;
  /** The command's check of its input, run first when the store would be made new. Default none. */
  beforeCreate?: () => unknown;
}

/** Opens the store for the duration of `work` and always closes it. */
export async function withStore<T>(
  options: GlobalOptions,
  work: (store: Store) => Promise<T>,
  use: StoreUse = {},
): Promise<T> {
  const store = await openStore({ url: options.db, ...use });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/**
 * withStore for a command that reads, or changes only what is already queued: a named SQLite
 * file or PostgreSQL schema that is not there is refused, not made.
 */
export function withExistingStore<T>(options: GlobalOptions, work: (store: Store) => Promise<T>): Promise<T> {
  return withStore(options, work, { mustExist: true });
}

export async function requireJob(store: Store, id: string): Promise<Job> {
  const job = await store.jobGet({ id });
  if (!job) throw new UserError(`no job with id "${safeText(id)}"`, await unknownIdsHint(store, [id]));
  return job;
}

/**
 * The hint for ids no job has. A schedule's id is the likeliest mistake: it names no job,
 * each occurrence is a job of its own (`<id>@<time>`), so the hint says where to look.
 */
export async function unknownIdsHint(store: Store, ids: string[]): Promise<string> {
  for (const id of ids.slice(0, 10)) {
    if (await store.scheduleGet({ id })) {
      return `"${safeText(id)}" is a schedule: its runs are jobs named ${safeText(id)}@<time> (see \`queuectl list\`); stop it with \`queuectl schedule remove ${safeText(id)}\``;
    }
  }
  return "see `queuectl list` for the ids in the queue";
}

/**
 * Validates a whole-number flag, declared with TEXT_OPTION so that it arrives as typed: cac
 * would turn `1e1` into 10 and `0x10` into 16. At most `max` (default: the largest safe
 * integer; SQLite refuses 1e20 as a LIMIT with a bare "datatype mismatch").
 */
export function integerOption(
  name: string,
  value: unknown,
  min: number,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  // The default makes the best example, where it is one the flag accepts (`--port 8080`).
  const example = `e.g. --${name} ${fallback >= Math.max(min, 1) && fallback <= max ? fallback : Math.max(min, 1)}`;
  const text = String(value).trim();
  const number = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(number) || number < min) {
    throw new UserError(
      `--${name} must be a whole number of at least ${min}, got "${String(value)}"`,
      example,
    );
  }
  if (!Number.isSafeInteger(number) || number > max) {
    throw new UserError(`--${name} must be at most ${countText(max)}, got "${text}"`, example);
  }
  return number;
}

/**
 * cac passes repeated flags as arrays. An option that takes one value and is typed twice is
 * refused before a command runs (cli-argv.ts, optionGivenTwice); what still arrives as an
 * array is a flag given twice (`--json --json`) or a value cac split, and the last one counts.
 */
export function lastValue<T>(value: T | T[] | undefined): T | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function parseState(value: string): JobState {
  const text = value.toLowerCase();
  if (!isJobState(text)) throw new UserError(`unknown state "${value}"`, suggestion(value, JOB_STATES));
  return text;
}

/** One state, for commands that take a single `--state` (the last one given wins). */
export function parseStateOption(value: unknown): JobState | undefined {
  const state = lastValue(value as string | string[] | undefined);
  return state === undefined ? undefined : parseState(String(state));
}

/**
 * The items of a list option: `--opt a,b --opt c` → [a, b, c], each trimmed unless `asTyped`
 * (tags and ids are matched as typed). An empty item (`a,`, `,a`, `a,,b`) is refused: it
 * would select or add nothing, silently. Undefined when the option is absent.
 */
export function listItems(
  option: string,
  value: unknown,
  example: string,
  asTyped = false,
): string[] | undefined {
  if (value === undefined) return undefined;
  const given = (Array.isArray(value) ? value : [value]).map(String);
  const itemsOf = (text: string) => text.split(",").map((item) => (asTyped ? item : item.trim()));
  const empty = given.find((text) => itemsOf(text).includes(""));
  if (empty !== undefined) {
    throw new UserError(
      `${option} "${safeText(empty)}" has an empty item`,
      `give one or more values separated by commas, e.g. ${example}`,
    );
  }
  return given.flatMap(itemsOf);
}

/** `--state pending --state failed` and `--state pending,failed` both mean either state. */
export function parseStatesOption(
  value: unknown,
  example = "--state pending,failed",
): JobState[] | undefined {
  const given = listItems("--state", value, example);
  return given && [...new Set(given.map(parseState))];
}

/**
 * Runs one manual move from the CLI: exit 2 naming the job's state when it does not apply.
 * Shared by `cancel`, `rerun` and `dlq retry <id>`.
 */
export async function moveFromCli(options: GlobalOptions, id: string, name: JobMoveName): Promise<void> {
  await withExistingStore(options, async (store) => {
    const outcome = await moveJob(store, id, name, await store.clockNow());
    if (!outcome.moved) {
      if (!outcome.current) {
        throw new UserError(`no job with id "${safeText(id)}"`, await unknownIdsHint(store, [id]));
      }
      throw new UserError(
        refusalMessage(safeText(id), name, outcome.current.state),
        refusalHint(name, outcome.current.state),
      );
    }
    const done = {
      retry: "moved back to pending (attempts reset)",
      cancel: "canceled",
      rerun: "queued to run again",
    }[name];
    if (options.json)
      printJson({ retry: { retried: [id] }, cancel: { canceled: id }, rerun: { rerun: id } }[name]);
    else console.log(`${colors.green("✓")} Job ${safeText(id)} ${done}`);
    if (name !== "cancel") warnEach(await purgedDependencyWarnings(store, [outcome.job]));
  });
}

/** One `warning:` line on stderr each, where scripts reading stdout are not disturbed. */
export function warnEach(lines: readonly string[]): void {
  for (const line of lines) process.stderr.write(`warning: ${safeText(line)}\n`);
}

/** What `wait` and `logs --follow` say while the store cannot be reached (flow/patient-reads.ts). */
export function waitingThroughOutages(until: number | null = null): Patience {
  return {
    until: until ?? undefined,
    onUnreachable: (error) => warnEach([`${error.message}; still waiting, trying again every second`]),
    onReachable: () => warnEach(["the store answers again; still waiting"]),
  };
}

/** `--queue a,b`: distinct queue names, or null when the flag is absent (every queue). */
export function queueNamesOption(value: unknown): string[] | null {
  const text = lastValue(value as string | string[] | undefined);
  if (text === undefined) return null;
  const names = listItems("--queue", String(text), "--queue default,emails") ?? [];
  const bad = names.find((name) => !isQueueName(name));
  if (bad !== undefined) {
    throw new UserError(
      `--queue needs queue names separated by commas, got "${safeText(String(text))}"`,
      "e.g. --queue default,emails",
    );
  }
  return [...new Set(names)];
}

export const PREFETCH_HELP =
  "Most jobs claimed ahead of a free slot while runs are short, started the moment a run ends; 0 turns it off (default: 8 on SQLite, 32 on PostgreSQL)";

/** The flags `worker run` and `worker start` share. */
export interface WorkerFlags extends GlobalOptions {
  concurrency?: unknown;
  prefetch?: unknown;
  queue?: unknown;
}

/**
 * The most jobs one worker runs at once, or claims ahead: far past what one process can
 * start and watch, so a bigger number is a typo (an extra digit), not a plan.
 */
export const MAX_WORKER_SLOTS = 10_000;

/** `--concurrency` (default 1), `--prefetch` (absent: the worker's default) and `--queue` (default: every queue). */
export function workerFlags(options: WorkerFlags) {
  // Read by every worker process; a typo would otherwise be noticed by no one.
  assertLimitsSetting(process.env.QUEUECTL_LIMITS);
  return {
    concurrency: integerOption("concurrency", lastValue(options.concurrency), 1, 1, MAX_WORKER_SLOTS),
    prefetch:
      options.prefetch === undefined
        ? undefined
        : integerOption("prefetch", lastValue(options.prefetch), 0, 0, MAX_WORKER_SLOTS),
    queues: queueNamesOption(options.queue),
  };
}

/**
 * Warns once for each `--queue` name that no job, queue setting or schedule uses yet, naming
 * the nearest one that is used: a typo (`emials`) would otherwise serve nothing, and `--drain`
 * would report an empty queue and exit 0. Not refused, unlike `queue pause`: a queue may get
 * its first job after its worker starts. Other workers' `--queue` is not counted, so a second
 * worker given the same typo is warned too; `default`, where jobs go unless told, always counts.
 */
export async function warnUnusedQueues(store: Store, queues: string[] | null): Promise<void> {
  if (queues === null) return;
  const [listed, schedules] = await Promise.all([store.queueList(), store.scheduleList()]);
  const used = new Set(["default", ...listed.map((queue) => queue.name)]);
  for (const schedule of schedules) used.add(schedule.spec.queue ?? "default");
  for (const name of queues.filter((queue) => !used.has(queue))) {
    const nearest = nearestName(name, [...used]);
    const hint = nearest
      ? `did you mean "${nearest}"?`
      : "check the name with `queuectl queue list`; jobs queued to it later will run";
    warnEach([`no job or setting uses queue "${name}" yet — ${hint}`]);
  }
}
