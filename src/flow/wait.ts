/**
 * Waiting for jobs to end, for `queuectl wait` and `logs --follow`. A job has ended when it
 * reaches a state it never leaves by itself (completed, dead, canceled); only `completed`
 * counts as success. Waiting reads the store and never changes it.
 *
 * Between reads it sleeps on `store.waitForChange` (a commit on SQLite, a NOTIFY on
 * PostgreSQL), so an end is seen within milliseconds, with a floor between reads so that a
 * busy queue committing all the time does not turn waiting into a busy loop.
 */

import { StoreUnreachableError } from "../core/errors.ts";
import { type Attempt, FINISHED_STATES, type Job } from "../core/job.ts";
import type { Store } from "../store/store.ts";

/** The least time between two reads of the store, however often it changes. */
const MIN_READ_INTERVAL_MS = 100;
/** The longest time between two reads, in case a change notification is missed. */
const MAX_READ_INTERVAL_MS = 2000;

export function hasEnded(job: Job): boolean {
  return FINISHED_STATES.includes(job.state);
}

/** "completed", "dead (exit 7)", "canceled (dependency b died)": how a job ended, for messages. */
export function endText(job: Job): string {
  if (job.state === "completed") return "completed";
  const detail = job.last_error ?? (job.exit_code === null ? null : `exit ${job.exit_code}`);
  return detail ? `${job.state} (${detail})` : job.state;
}

/** Sleeps until the store may have changed, at least MIN and at most MAX_READ_INTERVAL_MS. */
async function nextRead(store: Store, deadline: number): Promise<void> {
  const started = Date.now();
  await store.waitForChange({ timeoutMs: Math.max(0, Math.min(MAX_READ_INTERVAL_MS, deadline - started)) });
  const elapsed = Date.now() - started;
  if (elapsed < MIN_READ_INTERVAL_MS)
    await Bun.sleep(Math.max(0, Math.min(MIN_READ_INTERVAL_MS - elapsed, deadline - Date.now())));
}

export interface WaitResult {
  /** Every job found, in the order of `ids`, as last read. */
  jobs: Job[];
  /** Ids whose job disappeared while waiting (purged). */
  gone: string[];
  timedOut: boolean;
  /** The deadline passed while the store could not be reached: `jobs` are as last read. */
  unreachable: boolean;
}

/** `store.jobGet`, or "unreachable" when the store cannot be reached and the deadline has passed. */
async function readJob(store: Store, id: string, deadline: number): Promise<Job | null | "unreachable"> {
  try {
    return await store.jobGet({ id });
  } catch (error) {
    if (error instanceof StoreUnreachableError && Date.now() >= deadline) return "unreachable";
    throw error;
  }
}

/**
 * Resolves once every job has ended or vanished, or when the epoch ms `until` has passed
 * (null: no limit). It is the same instant the store's patient reads give up at, so an
 * outage that outlasts it always ends as a timeout. `onEnd` hears about each job once, as soon as it is seen to have ended. `known`
 * are the jobs as the caller read them before: a deadline that passes while the store
 * cannot be reached (patient-reads.ts retries until then) ends the wait with them as last read.
 */
export async function waitForJobs(
  store: Store,
  params: { ids: string[]; until: number | null; onEnd?: (job: Job) => void; known?: Job[] },
): Promise<WaitResult> {
  const deadline = params.until ?? Number.POSITIVE_INFINITY;
  const latest = new Map<string, Job>((params.known ?? []).map((job) => [job.id, job]));
  const gone: string[] = [];
  let open = [...params.ids];
  for (;;) {
    const stillOpen: string[] = [];
    for (const id of open) {
      const job = await readJob(store, id, deadline);
      if (job === "unreachable") {
        const jobs = params.ids.flatMap((each) => latest.get(each) ?? []);
        return { jobs, gone, timedOut: true, unreachable: true };
      }
      if (job === null) gone.push(id);
      else {
        latest.set(id, job);
        if (hasEnded(job)) params.onEnd?.(job);
        else stillOpen.push(id);
      }
    }
    open = stillOpen;
    const timedOut = open.length > 0 && Date.now() >= deadline;
    if (open.length === 0 || timedOut) {
      const jobs = params.ids.flatMap((id) => latest.get(id) ?? []);
      return { jobs, gone, timedOut, unreachable: false };
    }
    await nextRead(store, deadline);
  }
}

/**
 * The job's first attempt newer than `afterToken`, or null once the job has ended (or
 * vanished) without one: a job canceled before it ran has no attempt to show.
 */
export async function waitForNextAttempt(
  store: Store,
  params: { jobId: string; afterToken: number },
): Promise<Attempt | null> {
  for (;;) {
    // The job before its attempts: an attempt that started before the job ended is then seen.
    const job = await store.jobGet({ id: params.jobId });
    const attempts = await store.attemptList({ jobId: params.jobId });
    const next = attempts.find((attempt) => attempt.token > params.afterToken);
    if (next) return next;
    if (job === null || hasEnded(job)) return null;
    await nextRead(store, Number.POSITIVE_INFINITY);
  }
}
