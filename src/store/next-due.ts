/**
 * When an idle worker's next job falls due, decided alike for both backends from what each
 * reads. Two ways, as for claims (claim-route.ts):
 *
 * - over every queue (or many named ones): per priority present, the earliest waiting jobs in
 *   a bounded window of jobs_claim. The window keeps an idle round cheap however many jobs
 *   wait in other or paused queues; when none of it is served, its last time is a lower
 *   bound, and waking early only costs one empty claim.
 * - over a few named queues: per queue that is not paused, and per priority present in it,
 *   the earliest waiting job, one seek each in jobs_queue_claim, so exact.
 *
 * The rule is a generator of the reads it needs; each backend answers them its own way
 * (SQLite at once, PostgreSQL by awaiting), so neither holds a copy of the loop.
 */

import { namedQueuesWalked } from "./claim-route.ts";

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

/**
 * One read the rule needs; each answers null when there is nothing to read.
 * - `highest`: the highest priority of a waiting job, below `below` when that is not null, in
 *   `queue` (jobs_queue_claim) or in every queue when `queue` is null (jobs_claim).
 * - `window`: the earliest DUE_WINDOW waiting jobs at `priority` due after the asked time.
 * - `earliest`: the earliest `next_run_at` after the asked time of a waiting job in `queue`
 *   at `priority`.
 */
export type DueRead =
  | { read: "highest"; queue: string | null; below: number | null }
  | { read: "window"; priority: number }
  | { read: "earliest"; queue: string; priority: number };

export type DueAnswer = number | null | WaitingJob[];

/** The reads that find the next due time for a worker serving `named` queues (null: every queue), and the answer. */
export function* nextDueReads(
  named: readonly string[] | null,
  paused: ReadonlySet<string>,
): Generator<DueRead, number | null, DueAnswer> {
  const walked = namedQueuesWalked(named);
  let due: number | null = null;
  if (walked === null) {
    const served = named === null ? null : [...named];
    let priority = (yield { read: "highest", queue: null, below: null }) as number | null;
    for (let step = 0; step < MAX_PRIORITIES_SEEN && priority !== null; step++) {
      const window = (yield { read: "window", priority }) as WaitingJob[];
      due = earlier(due, earliestServed(window, served, paused));
      priority = (yield { read: "highest", queue: null, below: priority }) as number | null;
    }
    return due;
  }
  for (const queue of walked.filter((name) => !paused.has(name))) {
    let priority = (yield { read: "highest", queue, below: null }) as number | null;
    for (let step = 0; step < MAX_PRIORITIES_SEEN && priority !== null; step++) {
      due = earlier(due, (yield { read: "earliest", queue, priority }) as number | null);
      priority = (yield { read: "highest", queue, below: priority }) as number | null;
    }
  }
  return due;
}
