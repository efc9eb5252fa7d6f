/**
 * The manual state moves users make — `dlq retry`, `cancel` and `rerun` — defined once for
 * the CLI and the dashboard, and which jobs `kill` acts on and whether it ended them. Each
 * move is one guarded store transition, so a move that races a worker changes nothing and
 * reports the state it found instead of clobbering it.
 */

import { ATTEMPT_ERROR_TEXTS } from "../core/attempt-outcome.ts";
import { type Attempt, FINISHED_STATES, type Job, type JobState } from "../core/job.ts";
import type { Store } from "../store/store.ts";

export interface JobMove {
  from: readonly JobState[];
  to: "pending" | "canceled";
  resetAttempts: boolean;
  /** Recorded as the job's last_error. */
  reason?: string;
  /** Why the move does not apply to a job in another state: the hint users see. */
  refusal: string;
  /** Said after the job's state when the move does not apply, e.g. "not dead". */
  expected?: string;
}

export const JOB_MOVES = {
  retry: {
    from: ["dead"],
    to: "pending",
    resetAttempts: true,
    refusal: "only jobs in the DLQ (dead) can be retried",
    expected: "not dead",
  },
  cancel: {
    from: ["pending", "failed"],
    to: "canceled",
    resetAttempts: false,
    reason: "canceled by the user",
    refusal: "only pending or failed jobs can be canceled",
  },
  rerun: {
    from: ["completed", "dead", "canceled"],
    to: "pending",
    resetAttempts: true,
    refusal: "only finished jobs (completed, dead or canceled) can be rerun",
    expected: "not finished",
  },
} satisfies Record<string, JobMove>;

export type JobMoveName = keyof typeof JOB_MOVES;

export function isJobMoveName(name: string): name is JobMoveName {
  return Object.hasOwn(JOB_MOVES, name);
}

/** The one-line refusal, shared by the CLI and the dashboard. */
export function refusalMessage(id: string, name: JobMoveName, state: JobState): string {
  const move: JobMove = JOB_MOVES[name];
  return `job "${id}" is ${state}${move.expected ? `, ${move.expected}` : ""}`;
}

export type MoveOutcome = { moved: true; job: Job } | { moved: false; current: Job | null };

/** The hint for a refused move: what the move takes, and what applies to a job in `state` instead. */
export function refusalHint(name: JobMoveName, state: JobState): string {
  const { refusal } = JOB_MOVES[name];
  if (name === "cancel" && state === "processing")
    return `${refusal}; stop a running job with \`queuectl kill <id>\``;
  if (FINISHED_STATES.includes(state))
    return `${refusal}; it has ended: \`queuectl rerun <id>\` runs it again`;
  return `${refusal}; it has not ended: \`queuectl wait <id>\` waits for it, \`queuectl kill <id>\` stops it`;
}

/** Applies one move to one job; `current` (null when the id is unknown) explains a refusal. */
export async function moveJob(
  store: Store,
  id: string,
  name: JobMoveName,
  now: number,
): Promise<MoveOutcome> {
  const move: JobMove = JOB_MOVES[name];
  const [job] = await store.jobTransition({
    id,
    from: move.from,
    to: move.to,
    resetAttempts: move.resetAttempts,
    now,
    reason: move.reason,
  });
  if (job) return { moved: true, job };
  return { moved: false, current: await store.jobGet({ id }) };
}

/** `dlq retry --all`: every dead job back to pending with attempts reset. */
export async function retryAllDead(store: Store, now: number): Promise<Job[]> {
  const move: JobMove = JOB_MOVES.retry;
  return store.jobTransition({ from: move.from, to: move.to, resetAttempts: move.resetAttempts, now });
}

/**
 * Warnings for jobs queued again whose `after` names a job purged since: it counted as done
 * when they were queued again (it had run), but its result went with it, and a job that
 * reads it (`QUEUECTL_RESULT_<ID>`) will not find it.
 */
export async function purgedDependencyWarnings(store: Store, jobs: readonly Job[]): Promise<string[]> {
  const named = [...new Set(jobs.flatMap((job) => job.spec.after ?? []))];
  if (named.length === 0) return [];
  const present = new Set((await store.jobDeclarations({ ids: named })).map((row) => row.id));
  const purged = new Set(named.filter((id) => !present.has(id)));
  return jobs.flatMap((job) =>
    (job.spec.after ?? [])
      .filter((dependency) => purged.has(dependency))
      .map(
        (dependency) =>
          `job "${job.id}" waits for "${dependency}", which was purged: it counts as done, and "${job.id}" runs without its result`,
      ),
  );
}

/** Why `kill` leaves a job alone: it has `finished`, or `--retry` found no running attempt. */
export type KillRefusal = "finished" | "not-running";

/**
 * `kill` stops a running job and cancels a waiting one. With `retry` it only stops a
 * running attempt, so that the retry rules apply to it: a waiting job has no attempt to
 * count, and canceling it would end it for good, the opposite of what `--retry` asks.
 */
export function killRefusal(state: JobState, retry: boolean): KillRefusal | null {
  if (FINISHED_STATES.includes(state)) return "finished";
  if (retry && state !== "processing") return "not-running";
  return null;
}

/**
 * How an attempt that `kill` asked to stop ended: `killed` by the kill, or on its own before
 * the kill's signal landed, `completed` (a run that succeeded keeps its outcome) or otherwise
 * `ended`.
 */
export type KillEnd = "killed" | "completed" | "ended";

/**
 * Read from the attempt, not the job: a jobfile job's state after its run is whatever its
 * jobfile's newer revision made it, killed or not. Every way a kill ends an attempt (its
 * worker, a rescue, a hand-back it overrides) writes the kill's text into the attempt's error.
 * An attempt no longer stored (its job purged) counts as killed, as nothing says otherwise.
 */
export async function killEnd(store: Store, id: string, token: number): Promise<KillEnd> {
  const attempt = (await store.attemptList({ jobId: id })).find((row) => row.token === token);
  return attempt ? attemptKillEnd(attempt) : "killed";
}

function attemptKillEnd(attempt: Pick<Attempt, "exit_code" | "error">): KillEnd {
  const error = attempt.error ?? "";
  if (error.startsWith(ATTEMPT_ERROR_TEXTS.killed)) return "killed";
  // A result that could not be stored rides in the error of a run that succeeded.
  const succeeded = error === "" || error.startsWith(ATTEMPT_ERROR_TEXTS.notePrefix);
  return attempt.exit_code === 0 && succeeded ? "completed" : "ended";
}
