/**
 * What a worker reports while it runs. The loop only emits these; the command decides
 * how they read (a line per event in the worker's log), so the loop stays free of output.
 */

import type { Job } from "../core/job.ts";
import type { Outcome, RecordedOutcome } from "./outcome.ts";
import type { Rescue } from "./rescue.ts";

export function jobStarted(job: Job, pid: number | null): WorkerEvent {
  return { type: "job-started", jobId: job.id, attempt: job.attempts, maxAttempts: job.max_retries + 1, pid };
}

/** From what the store wrote: a jobfile changed under the run may have made it differ from what the worker decided. */
export function jobFinished(
  job: Job,
  recorded: RecordedOutcome,
  durationMs: number,
  error: string | null,
): WorkerEvent {
  const { outcome, nextRunAt } = recorded;
  return {
    type: "job-finished",
    jobId: job.id,
    attempt: job.attempts,
    outcome,
    durationMs,
    error,
    nextRunAt,
    because: recorded.because ?? null,
    canceled: recorded.canceled ?? null,
  };
}

export type WorkerEvent =
  | { type: "started"; workerId: string; pid: number; concurrency: number; queues: string[] | null }
  | { type: "job-started"; jobId: string; attempt: number; maxAttempts: number; pid: number | null }
  | {
      type: "job-finished";
      jobId: string;
      attempt: number;
      outcome: Outcome;
      durationMs: number;
      error: string | null;
      nextRunAt: number | null;
      /** Why the store ended it otherwise than the worker decided (see JobFailResult); null when it did not. */
      because: NonNullable<RecordedOutcome["because"]> | null;
      /** A discarded result: why the job was canceled while it ran; null when another worker took it. */
      canceled: string | null;
    }
  | {
      type: "rescued";
      jobId: string;
      fromWorker: string | null;
      outcome: Rescue["outcome"];
      because: Rescue["because"];
    }
  | { type: "lease-lost"; jobId: string }
  /** The job was canceled in place while it ran here (e.g. replaced by a newer occurrence): it is being stopped. */
  | { type: "canceled-while-running"; jobId: string; reason: string }
  /** A schedule's owed occurrence was not enqueued because a job already holds its id. */
  | { type: "occurrence-exists"; jobId: string; scheduleId: string }
  /** This worker claimed the job again while an older attempt of it still ran here: that one is stopped. */
  | { type: "superseded"; jobId: string; attempt: number }
  /** `kill` asked for the job: it is being stopped (SIGTERM, then SIGKILL after the grace). */
  | { type: "killing"; jobId: string; retry: boolean }
  /** Writing the result failed; it is retried while the lease holds. */
  | { type: "record-retry"; jobId: string; error: string; waitMs: number }
  /** `signal`: SIGTERM/SIGINT; `requested`: `worker stop --all` through the store; `drained`: --drain found no work. */
  | {
      type: "stopping";
      reason: "signal" | "requested" | "drained";
      running: number;
      /** Draining: jobs left waiting in paused queues, which did not hold the worker, and those queues. */
      waitingInPaused?: number;
      pausedQueues?: string[];
    }
  | { type: "escalating"; running: number }
  | { type: "config-changed"; summary: string }
  | { type: "error"; message: string }
  | { type: "stopped"; workerId: string };
