/** The job as the queue tracks it. Specs (what users declare) live in spec.ts. */

import { type JobSpec, QUEUE_NAME_PATTERN } from "./spec-fields.ts";

export const JOB_STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job can be claimed from (once `next_run_at` has passed). */
export const CLAIMABLE_STATES: readonly JobState[] = ["pending", "failed"];
/** States a job no longer leaves by itself. */
export const FINISHED_STATES: readonly JobState[] = ["completed", "dead", "canceled"];

/** All timestamps are milliseconds since the epoch; renderers turn them into ISO-8601. */
export interface Job {
  id: string;
  spec: JobSpec;
  state: JobState;
  /** Runs started so far, including a running one. Reset by `dlq retry` and `rerun`. */
  attempts: number;
  max_retries: number;
  priority: number;
  queue: string;
  tags: string[];
  created_at: number;
  updated_at: number;
  next_run_at: number;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  lease_until: number | null;
  /**
   * The fencing token: bumped by every claim and never reset, so a worker that lost its
   * lease cannot record a result over a newer attempt.
   */
  token: number;
  exit_code: number | null;
  last_error: string | null;
  /** The jobfile that declared the job, or null for ad hoc jobs. */
  source: string | null;
  revision: string;
  /** A `kill` waiting for the running attempt's worker: end `canceled`, or count a failed attempt (`retry`). */
  kill_requested?: "cancel" | "retry" | null;
  /** The job whose death or cancellation canceled this one (retrying that re-arms it), or null. */
  canceled_by?: string | null;
  /** The last progress a running attempt reported (0–100); kept after the job ends. Null: none yet. */
  progress_pct?: number | null;
  /** The short message that came with that progress, or null. */
  progress_message?: string | null;
  /** The JSON text the last finished attempt wrote to $QUEUECTL_RESULT, or null (see worker/job-reports.ts). */
  result?: string | null;
}

/** One run of a job, as recorded by the worker that ran it. */
export interface Attempt {
  job_id: string;
  attempt: number;
  token: number;
  worker_id: string;
  host: string;
  started_at: number;
  finished_at: number | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  stdout_bytes: number;
  stderr_bytes: number;
  /** The captured output files, relative to QUEUECTL_HOME on `host`. */
  log_path: string | null;
  /** The last few KB of combined output, kept in the store so `logs` works from any host. */
  output_tail: string | null;
  /** The job's revision this attempt ran; null for attempts recorded before revisions were kept. */
  revision: string | null;
  /** The resource limits that applied and how, e.g. "memory 256 MB (cgroup v1)"; absent for none. */
  limits?: string | null;
}

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

export type StateCounts = Record<JobState, number> & { total: number };

export function emptyStateCounts(): StateCounts {
  return { pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, canceled: 0, total: 0 };
}

const QUEUE_NAME = new RegExp(QUEUE_NAME_PATTERN);

/**
 * The highest concurrency limit a queue may have: more jobs than any queue runs at once, and
 * within what every store keeps exactly (PostgreSQL's INTEGER). `none` lifts the limit.
 */
export const MAX_QUEUE_CONCURRENCY = 1_000_000;

/** A queue's concurrency limit: a whole number from 1 to MAX_QUEUE_CONCURRENCY. */
export function isQueueConcurrency(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_QUEUE_CONCURRENCY;
}

/** What isQueueName accepts, in words for error messages. */
export const QUEUE_NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** A queue's name: one rule for job specs, `worker --queue` and `queue` commands. */
export function isQueueName(value: unknown): value is string {
  return typeof value === "string" && QUEUE_NAME.test(value);
}
