/**
 * How an attempt's end becomes a state change: completed, failed (retry later), dead
 * (the DLQ), or released (back to pending, not counted). Every write is fenced by the
 * claim's token, so a worker that lost its lease cannot overwrite a newer attempt.
 *
 * Rescue is the same decision made by another worker: a job whose lease ran out lost its
 * worker, which counts as a failed attempt under the normal retry rules.
 */

import { decideAfterFailure } from "../core/backoff.ts";
import type { QueueConfig } from "../core/config.ts";
import type { Job } from "../core/job.ts";
import type { RunResult, Store } from "../store/store.ts";
import { attemptLogBase } from "./log-files.ts";

export type Outcome = "completed" | "failed" | "dead" | "released" | "discarded";

export interface RecordedOutcome {
  outcome: Outcome;
  /** When a `failed` job may run again. */
  nextRunAt: number | null;
}

/** How many expired leases one worker rescues per heartbeat; the rest wait for the next one. */
const RESCUE_BATCH = 100;

export function succeeded(result: RunResult): boolean {
  return result.exitCode === 0 && result.error === null;
}

/**
 * Records how an attempt of `job` (as claimed) ended. `releaseReason` hands the job back
 * to pending instead, without counting the attempt (a forced stop).
 */
export async function recordAttempt(
  store: Store,
  params: { job: Job; result: RunResult; config: QueueConfig; now: number; releaseReason: string | null },
): Promise<RecordedOutcome> {
  const { job, result, config, now } = params;
  const fence = { id: job.id, token: job.token, now };
  if (params.releaseReason !== null) {
    const released = await store.jobRelease({ ...fence, reason: params.releaseReason });
    return { outcome: released ? "released" : "discarded", nextRunAt: null };
  }
  if (succeeded(result)) {
    const completed = await store.jobComplete({ ...fence, result });
    return { outcome: completed ? "completed" : "discarded", nextRunAt: null };
  }
  const decision = decideAfterFailure({
    attempts: job.attempts,
    maxRetries: job.max_retries,
    now,
    backoffBase: config.backoffBase,
    backoffMaxSeconds: config.backoffMaxSeconds,
  });
  const failed = await store.jobFail({ ...fence, ...decision, result });
  if (!failed) return { outcome: "discarded", nextRunAt: null };
  return { outcome: decision.state, nextRunAt: decision.state === "failed" ? decision.nextRunAt : null };
}

export interface Rescue {
  job: Job;
  outcome: "failed" | "dead";
}

/**
 * Expired leases a worker has seen, with the monotonic time it first saw each. A wall clock
 * that jumps forward (an NTP step, a VM or laptop resuming) makes every lease look expired
 * at once while their workers are alive and about to renew them. A renewal changes
 * `lease_until`, so a lease seen expired and unchanged for long enough by a clock that does
 * not jump really was abandoned.
 */
export class LeaseSightings {
  private readonly firstSeen = new Map<string, number>();

  constructor(private readonly monotonic: () => number = () => performance.now()) {}

  /** The jobs of `expired` seen expired, unchanged, for at least `confirmMs`; forgets the rest. */
  confirmed(expired: Job[], confirmMs: number): Job[] {
    const now = this.monotonic();
    const current = new Map(expired.map((job) => [`${job.id}\0${job.token}\0${job.lease_until}`, job]));
    for (const key of this.firstSeen.keys()) if (!current.has(key)) this.firstSeen.delete(key);
    const result: Job[] = [];
    for (const [key, job] of current) {
      const since = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, since);
      if (now - since >= confirmMs) result.push(job);
    }
    return result;
  }
}

/**
 * Fails every job whose lease ran out before `now`, except the attempts `ownTokens` says
 * this worker is running itself (it renews those and must not rescue them from itself).
 * Safe when several workers rescue at once: the lease condition makes only one succeed.
 * With `sightings`, a lease must also have looked expired for `confirmMs` of monotonic
 * time (see LeaseSightings); without, it is rescued as soon as it expired.
 */
export async function rescueExpiredLeases(
  store: Store,
  params: {
    now: number;
    config: QueueConfig;
    ownTokens: ReadonlyMap<string, number>;
    sightings?: { tracker: LeaseSightings; confirmMs: number };
  },
): Promise<Rescue[]> {
  const { now, config, sightings } = params;
  const found = await store.jobExpiredLeases({ now, limit: RESCUE_BATCH });
  const expired = sightings ? sightings.tracker.confirmed(found, sightings.confirmMs) : found;
  const rescued: Rescue[] = [];
  for (const job of expired) {
    if (params.ownTokens.get(job.id) === job.token) continue;
    const decision = decideAfterFailure({
      attempts: job.attempts,
      maxRetries: job.max_retries,
      now,
      backoffBase: config.backoffBase,
      backoffMaxSeconds: config.backoffMaxSeconds,
    });
    const result: RunResult = {
      exitCode: null,
      signal: null,
      error: `lease expired: worker ${job.worker_id ?? "?"} stopped renewing it (it crashed or lost the store)`,
      stdoutBytes: 0,
      stderrBytes: 0,
      // Whatever the lost worker captured is still on its host, under the usual name.
      logPath: attemptLogBase(job.id, job.token),
      outputTail: null,
    };
    const failed = await store.jobFail({
      id: job.id,
      token: job.token,
      now,
      ...decision,
      result,
      onlyIfLeaseExpiredBefore: now,
    });
    if (failed) rescued.push({ job, outcome: decision.state });
  }
  return rescued;
}
