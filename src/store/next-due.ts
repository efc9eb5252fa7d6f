/**
 * When an idle worker's next job falls due, decided alike for both backends: per served
 * queue that is not paused, and per priority present in it, the earliest waiting job after
 * a given time. The claim index is led by queue, then priority, so each of those is one
 * seek, however many jobs wait in other or paused queues.
 *
 * The rule is written once, as a generator of the reads it needs; each backend answers them
 * its own way (SQLite at once, PostgreSQL by awaiting), so neither holds a copy of the loop.
 */

/** Distinct priorities looked through per queue; past this many, the rest are left to the poll interval. */
export const MAX_PRIORITIES_SEEN = 32;

/**
 * One read the rule needs. `highest`: the highest priority of a waiting job in `queue`, below
 * `below` when that is not null. `earliest`: the earliest `next_run_at` after the asked time
 * of a waiting job in `queue` at `priority`. Both answer null when there is none.
 */
export type DueRead =
  | { read: "highest"; queue: string; below: number | null }
  | { read: "earliest"; queue: string; priority: number };

/** The reads that find the next due time over `servedQueues` (paused ones already left out), and the answer. */
export function* nextDueReads(
  servedQueues: Iterable<string>,
): Generator<DueRead, number | null, number | null> {
  let due: number | null = null;
  for (const queue of servedQueues) {
    let priority = yield { read: "highest", queue, below: null };
    for (let step = 0; step < MAX_PRIORITIES_SEEN && priority !== null; step++) {
      const at = yield { read: "earliest", queue, priority };
      if (at !== null && (due === null || at < due)) due = at;
      priority = yield { read: "highest", queue, below: priority };
    }
  }
  return due;
}
