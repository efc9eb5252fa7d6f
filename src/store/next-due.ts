/**
 * When an idle worker's next job falls due, decided alike for both backends from what each
 * reads: per priority present, the earliest waiting jobs in a bounded window of the claim
 * index. The window keeps an idle round cheap however many jobs wait in other or paused
 * queues; when none of it is served, its last time is a lower bound, and waking early only
 * costs one empty claim.
 */

/** Distinct priorities looked through; past this many, the rest are left to the poll interval. */
export const MAX_PRIORITIES_SEEN = 32;

/** Waiting jobs read per priority, earliest first. */
export const DUE_WINDOW = 256;

export interface WaitingJob {
  next_run_at: unknown;
  queue: unknown;
}

/** The time to wake for, from one priority's window (earliest first), or null when it holds nothing. */
export function earliestServed(
  window: WaitingJob[],
  queues: string[] | null,
  paused: ReadonlySet<string>,
): number | null {
  for (const job of window) {
    const queue = String(job.queue);
    if ((queues === null || queues.includes(queue)) && !paused.has(queue)) return Number(job.next_run_at);
  }
  const last = window[DUE_WINDOW - 1];
  return last === undefined ? null : Number(last.next_run_at);
}

export function earlier(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
