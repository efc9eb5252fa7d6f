/**
 * How an attempt's end becomes a state change: completed, failed (retry later), dead
 * (the DLQ), canceled (killed), or released (back to pending, not counted). A job's
 * jobfile may change that under the run (canceled instead of retried, or replaced by a
 * new revision); what is reported is what the store wrote. Every write is
 * fenced by the claim's token, so a worker that lost its lease cannot overwrite a newer
 * attempt. Rescue (rescue.ts) is the same decision made by another worker.
 */

import { ATTEMPT_ERROR_TEXTS } from "../core/attempt-outcome.ts";
import { decideAfterFailure } from "../core/backoff.ts";
import type { QueueConfig } from "../core/config.ts";
import { StoreGoneError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import type { JobFailResult, KillMode, RunResult, Store } from "../store/store.ts";
import { KILLED_BY_USER, KILLED_BY_USER_RETRY } from "./kill.ts";

/**
 * `discarded`: a newer claim owns the job, so this result does not count. `abandoned`: the
 * result could not be written before the lease ran out; a rescue will count the attempt.
 * `replaced`: the attempt counted, but its jobfile changed while it ran, so the job is
 * pending again as the new revision.
 */
export type Outcome =
  | "completed"
  | "failed"
  | "dead"
  | "canceled"
  | "released"
  | "replaced"
  | "discarded"
  | "abandoned";

export interface RecordedOutcome {
  outcome: Outcome;
  /** When a `failed` job may run again, or a `replaced` one start. */
  nextRunAt: number | null;
  /** Why the store wrote another outcome than the worker decided. Absent or null: it did not. */
  because?: JobFailResult["because"];
  /** `discarded` only: why the job was canceled while it ran (lease-loss.ts). Absent or null: another worker took it. */
  canceled?: string | null;
}

const OUTCOME_OF_FAIL = {
  failed: "failed",
  dead: "dead",
  canceled: "canceled",
  pending: "replaced",
  // Its jobfile went back to a revision it completed: shown again, nothing runs after it.
  completed: "replaced",
} as const;

/** What a failed attempt came to, as the store wrote it. */
export function failOutcome(written: JobFailResult) {
  return { outcome: OUTCOME_OF_FAIL[written.state], nextRunAt: written.nextRunAt, because: written.because };
}

export function succeeded(result: RunResult): boolean {
  return result.exitCode === 0 && result.error === null;
}

export interface AttemptEnd {
  /** The job as claimed: its token fences every write. */
  job: Job;
  result: RunResult;
  config: QueueConfig;
  now: number;
  /** Set when the worker stopped the run itself: back to pending, the attempt not counted. */
  releaseReason: string | null;
  /** Set when `kill` stopped the run: `cancel` ends the job canceled, `retry` counts a failed attempt. */
  kill?: KillMode | null;
  /** False for a job released before its run started: it leaves no attempt behind. Default true. */
  started?: boolean;
  /**
   * The worker was stopping the run (its timeout, a lost lease) when it ended: a kill asked
   * for meanwhile that the worker had not read yet still decides how it ends. Default false.
   */
  stopped?: boolean;
}

/** What a failed attempt of `job` leads to under the retry rules: failed (with its retry time) or dead. */
export function failureDecision(job: Job, config: QueueConfig, now: number) {
  return decideAfterFailure({
    attempts: job.attempts,
    maxRetries: job.max_retries,
    now,
    backoffBase: config.backoffBase,
    backoffMaxSeconds: config.backoffMaxSeconds,
  });
}

/** Records how an attempt of `job` (as claimed) ended. */
export async function recordAttempt(store: Store, params: AttemptEnd): Promise<RecordedOutcome> {
  const { job, result, config, now } = params;
  const fence = { id: job.id, token: job.token, now };
  if (params.releaseReason !== null) {
    const unstarted = params.started === false;
    const released = await store.jobRelease({ ...fence, reason: params.releaseReason, unstarted });
    if (released)
      return unstarted ? { outcome: "released", nextRunAt: null } : releasedOutcome(store, job.id);
    // Refused: a newer claim owns it, or a `kill` was asked for before the hand-back (while it
    // waited to start, or while a stopping worker gave it its grace), which it ends as the kill says.
    const kill = await killAskedMeanwhile(store, job);
    if (kill === null) return { outcome: "discarded", nextRunAt: null };
    // A run that had started was being stopped already, as a timeout stops one: the error says both.
    const unstartedError = kill === "retry" ? KILLED_BY_USER_RETRY : KILLED_BY_USER;
    const killed = params.started === false ? { ...result, error: unstartedError } : killedRun(result, kill);
    return recordAttempt(store, { ...params, releaseReason: null, kill, result: killed });
  }
  // A run that exited on its own before the kill's signal landed keeps its own outcome.
  if (params.kill === "cancel" && !succeeded(result)) {
    const canceled = await store.jobFail({
      ...fence,
      state: "canceled",
      nextRunAt: now,
      // A plain kill that came while `kill --retry` was stopping the run: the plain kill.
      result:
        result.error === KILLED_BY_USER_RETRY
          ? { ...result, error: KILLED_BY_USER }
          : killedRun(result, "cancel"),
    });
    return canceled ? failOutcome(canceled) : { outcome: "discarded", nextRunAt: null };
  }
  if (succeeded(result)) {
    const completed = await store.jobComplete({ ...fence, result });
    return { outcome: completed ? "completed" : "discarded", nextRunAt: null };
  }
  const decision = failureDecision(job, config, now);
  // A plain kill that came while the worker was stopping the run, and that it had not read by
  // the end, is the user's word on how the run ends, as it would be had the worker read it
  // sooner. (An unread `kill --retry` changes nothing: the attempt fails either way.)
  const unreadKill = params.stopped === true && !params.kill;
  const failed = await store.jobFail({
    ...fence,
    ...decision,
    result: params.kill === "retry" ? killedRun(result, "retry") : result,
    unlessPlainKill: unreadKill,
  });
  if (failed) return failOutcome(failed);
  const kill = unreadKill ? await killAskedMeanwhile(store, job) : null;
  if (kill !== "cancel") return { outcome: "discarded", nextRunAt: null };
  return recordAttempt(store, { ...params, kill });
}

/** The kill asked for on `job`'s attempt (as claimed) that its write was refused for, if any. */
async function killAskedMeanwhile(store: Store, job: Job): Promise<KillMode | null> {
  const row = await store.jobGet({ id: job.id });
  if (row?.state !== "processing" || row.token !== job.token) return null;
  return row.kill_requested ?? null;
}

/**
 * A killed run's error names the kill, also when the kill came while a timeout was stopping
 * it. A `kill --retry`'s text is not the plain kill's: /metrics counts its attempt as failed.
 */
function killedRun(result: RunResult, mode: KillMode): RunResult {
  const error = result.error ?? "";
  if (error.startsWith(KILLED_BY_USER)) return result;
  const prefix =
    mode === "retry" ? ATTEMPT_ERROR_TEXTS.stoppingRetryKillPrefix : ATTEMPT_ERROR_TEXTS.stoppingKillPrefix;
  return { ...result, error: `${prefix}${error || "no error"})` };
}

/**
 * A stopped run handed back: the job waits again, unless its jobfile was removed while it
 * ran, in which case the store ended it canceled. Read back so the worker's line says which;
 * only for a run that had started, since a hand-back of one claimed ahead is frequent and
 * says nothing.
 */
async function releasedOutcome(store: Store, id: string): Promise<RecordedOutcome> {
  const row = await store.jobGet({ id });
  if (row?.state === "canceled") return { outcome: "released", nextRunAt: null, because: "jobfile-removed" };
  if (row?.state === "completed")
    return { outcome: "released", nextRunAt: null, because: "jobfile-completed" };
  return { outcome: "released", nextRunAt: null };
}

/** First pause after a failed write; it doubles up to RECORD_RETRY_MAX_MS. */
export const RECORD_RETRY_FIRST_MS = 100;
const RECORD_RETRY_MAX_MS = 2_000;

export interface RecordRetry {
  /** Whether this worker still holds the attempt's lease; once false, the result is given up. */
  holdsLease: () => boolean;
  /** Told of each failed write, and of giving up. */
  onRetry: (error: Error, waitMs: number) => void;
  /** Gives up when `fatal(error)` (the store is gone for good); the error is rethrown. */
  fatal: (error: unknown) => boolean;
  wait?: (ms: number) => Promise<void>;
  /** An earlier write of this result failed (a grouped completion): it may have committed. */
  failedBefore?: boolean;
}

/**
 * `recordAttempt`, retried with backoff while the lease holds (a locked SQLite file, a
 * dropped PostgreSQL connection): a result is only given up once another worker may own
 * the job. A write that committed although its answer was lost looks fenced on retry; the
 * job's row tells the two apart.
 */
export async function recordAttemptRetrying(
  store: Store,
  params: AttemptEnd,
  retry: RecordRetry,
): Promise<RecordedOutcome> {
  const wait = retry.wait ?? ((ms: number) => Bun.sleep(ms));
  let pause = RECORD_RETRY_FIRST_MS;
  let failedBefore = retry.failedBefore ?? false;
  for (;;) {
    try {
      const recorded = await recordAttempt(store, params);
      if (recorded.outcome !== "discarded" || !failedBefore) return recorded;
      return await outcomeOfEarlierWrite(store, params, recorded);
    } catch (error) {
      if (retry.fatal(error) || !retry.holdsLease()) throw error;
      failedBefore = true;
      retry.onRetry(error as Error, pause);
      await wait(pause);
      pause = Math.min(pause * 2, RECORD_RETRY_MAX_MS);
    }
  }
}

/**
 * recordAttemptRetrying, and when the lease ran out before any write went through, the
 * result is given up (`abandoned`): a rescue will count the attempt as failed. Only a store
 * that is gone for good throws.
 */
export async function recordAttemptOrAbandon(
  store: Store,
  params: AttemptEnd,
  retry: RecordRetry & { onAbandon: (message: string) => void },
): Promise<RecordedOutcome> {
  try {
    return await recordAttemptRetrying(store, params, retry);
  } catch (error) {
    if (error instanceof StoreGoneError) throw error;
    retry.onAbandon(
      `job ${params.job.id}: its result could not be recorded before its lease ran out (${(error as Error).message}); the result is given up, and the job will be rescued as a failed attempt`,
    );
    return { outcome: "abandoned", nextRunAt: null };
  }
}

async function outcomeOfEarlierWrite(
  store: Store,
  params: AttemptEnd,
  fallback: RecordedOutcome,
): Promise<RecordedOutcome> {
  const { job } = params;
  const now = await store.jobGet({ id: job.id });
  if (!now || now.token !== job.token) return fallback;
  // The earlier write ended the attempt, then queued its jobfile's new revision in its place
  // (a hand-back promotes it too, and is reported as the hand-back it was).
  const promoted = now.revision !== job.revision && params.releaseReason === null;
  if (promoted && (now.state === "pending" || now.state === "completed")) {
    if (succeeded(params.result)) return { outcome: "completed", nextRunAt: null };
    return now.state === "pending"
      ? { outcome: "replaced", nextRunAt: now.next_run_at, because: "jobfile-changed" }
      : { outcome: "replaced", nextRunAt: null, because: "jobfile-completed" };
  }
  // Only a kill asks for `canceled`; any other failure canceled was its jobfile's removal.
  if (
    now.state === "canceled" &&
    params.kill !== "cancel" &&
    now.kill_requested !== "cancel" &&
    params.releaseReason === null
  )
    return { outcome: "canceled", nextRunAt: null, because: "jobfile-removed" };
  const byState: Partial<Record<Job["state"], Outcome>> = {
    completed: "completed",
    failed: "failed",
    dead: "dead",
    canceled: "canceled",
    pending: "released",
  };
  const outcome = byState[now.state];
  return outcome ? { outcome, nextRunAt: now.state === "failed" ? now.next_run_at : null } : fallback;
}
