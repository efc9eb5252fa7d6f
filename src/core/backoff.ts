/**
 * The retry schedule. After the n-th failed run (n = 1, 2, 3 …) the job waits
 * `base ^ n` seconds before it may run again, capped at `maxSeconds`:
 * with base 2 that is 2 s, 4 s, 8 s, 16 s … With base 1 every retry waits 1 s.
 *
 * Pure: the caller passes `now`, so tests use a fixed clock.
 */
export function retryDelayMs(failedRuns: number, base: number, maxSeconds: number): number {
  const seconds = Math.min(base ** Math.max(1, failedRuns), maxSeconds);
  return Math.round(seconds * 1000);
}

export interface FailureDecision {
  /** `failed` (claimable again at `nextRunAt`) or `dead` (moved to the DLQ). */
  state: "failed" | "dead";
  nextRunAt: number;
}

/**
 * What happens after a failed run. `attempts` counts runs so far, including this one.
 * A job runs at most `1 + maxRetries` times, so `maxRetries = 0` goes straight to the DLQ.
 */
export function decideAfterFailure(params: {
  attempts: number;
  maxRetries: number;
  now: number;
  backoffBase: number;
  backoffMaxSeconds: number;
}): FailureDecision {
  const { attempts, maxRetries, now, backoffBase, backoffMaxSeconds } = params;
  if (attempts > maxRetries) return { state: "dead", nextRunAt: now };
  return { state: "failed", nextRunAt: now + retryDelayMs(attempts, backoffBase, backoffMaxSeconds) };
}
