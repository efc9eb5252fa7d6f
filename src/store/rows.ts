/** Maps database rows to domain objects; shared by every backend so shapes never drift. */

import type { DependencyStatus } from "../core/dependencies.ts";
import { type Attempt, emptyStateCounts, type Job, type JobState, type StateCounts } from "../core/job.ts";
import type { NotifyEvent } from "../core/notify.ts";
import type { CompletedRevision, CompletedRevisionOf, JobFacts } from "../core/reconcile.ts";
import type { JobSpec } from "../core/spec.ts";
import { inSpecFieldOrder } from "../core/spec-fields.ts";
import type { KillTarget } from "./params.ts";
import type {
  AttemptRecord,
  DeclaredJob,
  JobRecord,
  KillMode,
  QueueInfo,
  RenewedLease,
  ScheduleRecord,
  WorkerRecord,
} from "./records.ts";
import type { DeliveryStatus, WebhookDelivery } from "./webhook-records.ts";

type Row = Record<string, unknown>;

/** PostgreSQL returns BIGINT as string or bigint; SQLite returns numbers. */
function toNumber(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

function toNullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

function toNullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** jsonb columns arrive parsed from PostgreSQL and as text from SQLite. */
function parseJson<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

/**
 * A stored spec. SQLite keeps the text normalizeSpec wrote; PostgreSQL's jsonb hands its keys
 * back shortest first, so they are put back in normalizeSpec's order (inSpecFieldOrder).
 */
function specOf(value: unknown): JobSpec {
  return typeof value === "string" ? (JSON.parse(value) as JobSpec) : inSpecFieldOrder(value as JobSpec);
}

export function rowToJob(row: Row): Job {
  return {
    id: String(row.id),
    spec: specOf(row.spec),
    state: row.state as JobState,
    attempts: toNumber(row.attempts),
    max_retries: toNumber(row.max_retries),
    priority: toNumber(row.priority),
    queue: String(row.queue),
    tags: parseJson<string[]>(row.tags),
    created_at: toNumber(row.created_at),
    updated_at: toNumber(row.updated_at),
    next_run_at: toNumber(row.next_run_at),
    started_at: toNullableNumber(row.started_at),
    finished_at: toNullableNumber(row.finished_at),
    worker_id: toNullableString(row.worker_id),
    lease_until: toNullableNumber(row.lease_until),
    token: toNumber(row.token),
    exit_code: toNullableNumber(row.exit_code),
    last_error: toNullableString(row.last_error),
    source: toNullableString(row.source),
    revision: String(row.revision),
    kill_requested: (toNullableString(row.kill_requested) as Job["kill_requested"]) ?? null,
    canceled_by: toNullableString(row.canceled_by),
    progress_pct: toNullableNumber(row.progress_pct),
    progress_message: toNullableString(row.progress_message),
    result: toNullableString(row.result),
  };
}

export function rowToAttempt(row: Row): Attempt {
  return {
    job_id: String(row.job_id),
    attempt: toNumber(row.attempt),
    token: toNumber(row.token),
    worker_id: String(row.worker_id),
    host: String(row.host),
    started_at: toNumber(row.started_at),
    finished_at: toNullableNumber(row.finished_at),
    exit_code: toNullableNumber(row.exit_code),
    signal: toNullableString(row.signal),
    error: toNullableString(row.error),
    stdout_bytes: toNumber(row.stdout_bytes),
    stderr_bytes: toNumber(row.stderr_bytes),
    log_path: toNullableString(row.log_path),
    output_tail: toNullableString(row.output_tail),
    revision: toNullableString(row.revision),
    // Only when set: most attempts have no limits, and exports and tests compare whole attempts.
    ...(row.limits === null || row.limits === undefined ? {} : { limits: String(row.limits) }),
  };
}

export function rowToWorker(row: Row): WorkerRecord {
  return {
    id: String(row.id),
    host: String(row.host),
    pid: toNumber(row.pid),
    started_at: toNumber(row.started_at),
    heartbeat_at: toNumber(row.heartbeat_at),
    stop_requested: Boolean(toNumber(row.stop_requested)),
    queues: row.queues === null || row.queues === undefined ? null : parseJson<string[]>(row.queues),
  };
}

/** An exported job (`queuectl export`): the row as stored, with its completed revisions. */
export function rowToJobRecord(row: Row): JobRecord {
  return {
    id: String(row.id),
    spec: specOf(row.spec),
    revision: String(row.revision),
    state: row.state as JobState,
    attempts: toNumber(row.attempts),
    max_retries: toNumber(row.max_retries),
    created_at: toNumber(row.created_at),
    updated_at: toNumber(row.updated_at),
    next_run_at: toNumber(row.next_run_at),
    started_at: toNullableNumber(row.started_at),
    finished_at: toNullableNumber(row.finished_at),
    exit_code: toNullableNumber(row.exit_code),
    last_error: toNullableString(row.last_error),
    source: toNullableString(row.source),
    declared: Boolean(row.declared),
    completed_revisions: [...parseJson<string[]>(row.completed)].sort(),
    canceled_by: toNullableString(row.canceled_by),
    schedule_id: toNullableString(row.schedule_id),
    attempt_history: parseJson<Row[]>(row.history ?? "[]")
      .map((attempt): AttemptRecord => {
        const { job_id: _, ...rest } = rowToAttempt({ ...attempt, job_id: "" });
        return rest;
      })
      .sort((a, b) => a.token - b.token),
    // A job's last progress and its result travel with it (export, a purge's archive), so a job
    // that waits on it still gets the result in the store it moves to.
    ...("result" in row
      ? {
          progress_pct: toNullableNumber(row.progress_pct),
          progress_message: toNullableString(row.progress_message),
          result: toNullableString(row.result),
        }
      : {}),
  };
}

/** A JSON array column (SQLite text, PostgreSQL already parsed, or NULL), an empty one unparsed. */
function jsonList<T>(value: unknown): T[] {
  return value === "[]" ? [] : (parseJson<T[] | null>(value) ?? []);
}

/** A `completed_revisions` row. */
export function rowToCompletedRevision(row: Row): CompletedRevisionOf {
  return { id: String(row.job_id), revision: String(row.revision), at: toNullableNumber(row.completed_at) };
}

/** What the reconcile rules read about an id; `completed` and `canceled_dependents` are JSON arrays. */
export function rowToJobFacts(row: Row): JobFacts {
  // JSON parsed only where there is something to parse, and the spec only when asked for:
  // the planner shows it for a change alone, and a no-op re-sync of 10,000 jobfiles parsed
  // every one of them.
  const completed = jsonList<{ revision: string; at: unknown }>(row.completed);
  const canceled = jsonList<string>(row.canceled_dependents);
  let spec: JobSpec | undefined;
  return {
    id: String(row.id),
    state: row.state as JobState,
    revision: String(row.revision),
    get spec() {
      spec ??= specOf(row.spec);
      return spec;
    },
    nextRevision: toNullableString(row.next_revision),
    source: toNullableString(row.source),
    declared: Boolean(row.declared),
    owner: toNullableString(row.owner),
    completed:
      completed.length === 0
        ? []
        : completed
            .map(
              (entry): CompletedRevision => ({
                revision: String(entry.revision),
                at: toNullableNumber(entry.at),
              }),
            )
            .sort((a, b) => a.revision.localeCompare(b.revision)),
    canceledDependents: canceled.length === 0 ? [] : canceled.map(String).sort(),
    canceledByRemoval: Boolean(row.canceled_by_removal),
  };
}

export function rowToDeclaredJob(row: Row): DeclaredJob {
  return {
    id: String(row.id),
    source: String(row.source),
    revision: String(row.revision),
    state: row.state as JobState,
    declared: Boolean(row.declared),
    owner: toNullableString(row.owner),
  };
}

export function rowToRenewedLease(row: Row): RenewedLease {
  return {
    id: String(row.id),
    token: toNumber(row.token),
    killRequested: (row.kill_requested ?? null) as KillMode | null,
  };
}

export function rowToKillTarget(row: Row): KillTarget {
  return { workerId: (row.worker_id ?? null) as string | null, token: toNumber(row.token) };
}

export function rowToSchedule(row: Row): ScheduleRecord {
  return {
    id: String(row.id),
    spec: specOf(row.spec),
    revision: String(row.revision),
    source: toNullableString(row.source),
    next_at: toNullableNumber(row.next_at),
    last_at: toNullableNumber(row.last_at),
    created_at: toNumber(row.created_at),
    updated_at: toNumber(row.updated_at),
  };
}

/** Queue settings rows and per-queue state counts joined by name, sorted by name. */
export function rowsToQueues(settings: Row[], counts: Row[]): QueueInfo[] {
  const queues = new Map<string, QueueInfo>();
  const entry = (name: string): QueueInfo => {
    let info = queues.get(name);
    if (!info) {
      info = { name, concurrency: null, paused: false, counts: emptyStateCounts() };
      queues.set(name, info);
    }
    return info;
  };
  for (const row of settings) {
    const info = entry(String(row.name));
    info.concurrency = row.concurrency === null ? null : Number(row.concurrency);
    info.paused = Boolean(row.paused);
  }
  for (const row of counts) {
    const info = entry(String(row.queue));
    info.counts[row.state as JobState] = Number(row.n);
    info.counts.total += Number(row.n);
  }
  return [...queues.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** `state, n` rows counted into every state, with their total. */
export function rowsToStateCounts(rows: Row[]): StateCounts {
  const counts = emptyStateCounts();
  for (const row of rows) {
    counts[row.state as JobState] = Number(row.n);
    counts.total += Number(row.n);
  }
  return counts;
}

/** Each job's dependencies, from `job_id, depends_on` rows. */
export function rowsToEdges(rows: Row[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const row of rows) {
    const list = edges.get(String(row.job_id)) ?? [];
    list.push(String(row.depends_on));
    edges.set(String(row.job_id), list);
  }
  return edges;
}

/** Dependency rows (`id, state, canceled_by`) as the dependency rules read them. */
export function rowToDependencyStatus(row: Row): DependencyStatus {
  return {
    id: String(row.id),
    state: row.state as JobState,
    canceledBy: row.canceled_by === null ? null : String(row.canceled_by),
  };
}

export function rowToDelivery(row: Row): WebhookDelivery {
  return {
    id: toNumber(row.id),
    job_id: String(row.job_id),
    token: toNumber(row.token),
    event: row.event as NotifyEvent,
    url: String(row.url),
    body: String(row.body),
    status: row.status as DeliveryStatus,
    attempts: toNumber(row.attempts),
    created_at: toNumber(row.created_at),
    next_attempt_at: toNumber(row.next_attempt_at),
    delivered_at: toNullableNumber(row.delivered_at),
    last_status: toNullableNumber(row.last_status),
    last_error: toNullableString(row.last_error),
  };
}

/** A filter of one value or of several, any of which matches, as a list; empty when absent. */
export function anyOf(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : [...new Set([value].flat())];
}
