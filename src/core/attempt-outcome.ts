/**
 * What a finished attempt counts as in the `/metrics` outcome counters.
 *
 * An attempt row keeps how its run ended (exit code, error), not the state change it
 * caused, so the outcome is read back from what the worker writes: a kill that canceled
 * the job, a forced stop that handed it back, or a result that could not be stored all
 * leave an error beside an exit code. Only a failure the retry rules judged is `failed`
 * (a retry left) or `dead` (none left); a kill's cancel is neither.
 *
 * Pure: the stores gather the facts below per queue in SQL and this decides what they count.
 */

/**
 * The texts the worker writes into an attempt's error, matched by the stores. They must
 * stay equal to what src/worker writes (kill.ts KILLED_BY_USER, rescue.ts, attempts.ts'
 * release reasons, job-reports.ts' notes); test/dashboard/metrics-outcomes.test.ts runs
 * the real worker through each of them.
 */
export const ATTEMPT_ERROR_TEXTS = {
  /** `kill`, acted on by the job's worker. */
  killed: "killed by user",
  /**
   * A plain kill that a rescue carried out. A `kill --retry` writes "killed by user (kill
   * --retry)" in either case, which matches neither text: an ordinary failure.
   */
  rescuedKillPrefix: "killed by user; ",
  /** A kill that came while a timeout, a lease lost or a stopping worker was stopping the run. */
  stoppingKillPrefix: "killed by user while it was being stopped (",
  /** The same for a `kill --retry`: an ordinary failure, which matches none of the kill's texts. */
  stoppingRetryKillPrefix: "killed by user (kill --retry) while it was being stopped (",
  /** A result that was not stored; the run itself succeeded. */
  notePrefix: "result not stored: ",
  /**
   * A forced stop that handed the job back: the attempt does not count. The first text is
   * what earlier releases wrote for the same stop, whether `worker stop` or a signal sent it.
   */
  released: [
    "stopped by `worker stop` before it finished; back to pending",
    "stopped with its worker before it finished; back to pending",
    "handed back before it started",
  ],
} as const;

export type ErrorKind = "none" | "note" | "killed" | "released" | "other";

export interface AttemptFacts {
  finished: boolean;
  exitZero: boolean;
  errorKind: ErrorKind;
  /** The attempt number is above the job's max_retries: a failure here moves it to the DLQ. */
  lastTry: boolean;
  /** Attempt number 2 and up. */
  retry: boolean;
}

export type AttemptOutcome = "running" | "completed" | "failed" | "dead" | "canceled" | "released";

export function attemptOutcome(facts: AttemptFacts): AttemptOutcome {
  if (!facts.finished) return "running";
  if (facts.exitZero && (facts.errorKind === "none" || facts.errorKind === "note")) return "completed";
  if (facts.errorKind === "released") return "released";
  if (facts.errorKind === "killed") return "canceled";
  return facts.lastTry ? "dead" : "failed";
}

export interface OutcomeCounts {
  queue: string;
  completed: number;
  failed: number;
  dead: number;
  retries: number;
}

/**
 * Sums rows of facts (each with how many attempts share them) into counts per queue, in
 * queue order. A retry handed back and claimed again is the same retry, so it counts once.
 */
export function countOutcomes(rows: (AttemptFacts & { queue: string; n: number })[]): OutcomeCounts[] {
  const byQueue = new Map<string, OutcomeCounts>();
  for (const row of rows) {
    let counts = byQueue.get(row.queue);
    if (!counts) {
      counts = { queue: row.queue, completed: 0, failed: 0, dead: 0, retries: 0 };
      byQueue.set(row.queue, counts);
    }
    const outcome = attemptOutcome(row);
    if (outcome === "completed" || outcome === "failed" || outcome === "dead") counts[outcome] += row.n;
    if (row.retry && outcome !== "released") counts.retries += row.n;
  }
  return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
}
