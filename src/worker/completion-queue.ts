/**
 * Runs that ended well, waiting for the claim loop's next transaction to complete them
 * together with its claims: a commit per job was most of a short job's cost. How long they
 * wait for company is keepLingering's rule; a run that ended otherwise is recorded alone at
 * once, and never waits here.
 */

import type { RunResult } from "../store/store.ts";
import type { Slot } from "./attempts.ts";
import type { RecordedOutcome } from "./outcome.ts";

/**
 * One step of the wait for company: finished runs wait at least this once while jobs claimed
 * ahead wait (1 ms made a 2- and 4-slot SQLite worker of `true` jobs 10-20 % faster).
 */
export const COMPLETION_LINGER_MS = 1;

/**
 * How long finished runs may keep waiting, from when the oldest was queued, while more jobs
 * claimed ahead wait than there are slots. It bounds how late a finished job shows as
 * completed, and how many finished runs a worker killed in that moment leaves to be rescued
 * (at-least-once). Checked between steps of COMPLETION_LINGER_MS, so a worker starved of CPU
 * may overshoot it.
 */
export const COMPLETION_LINGER_MAX_MS = 20;

/**
 * Whether finished runs wait another COMPLETION_LINGER_MS for more to share their commit.
 * Once, whenever jobs claimed ahead wait; again while more wait than there are slots, since
 * the round that completes them also claims the next, and a line at least a round long
 * still remains; never once COMPLETION_LINGER_MAX_MS have passed since the oldest was
 * queued. A commit a job cost a 1-slot worker as much as its spawn where syscalls are slow.
 */
export function keepLingering(
  stepsWaited: number,
  waiting: number,
  concurrency: number,
  oldestQueuedMsAgo: number,
  maxMs = COMPLETION_LINGER_MAX_MS,
): boolean {
  if (waiting === 0 || oldestQueuedMsAgo >= maxMs) return false;
  return stepsWaited === 0 || waiting > concurrency;
}

export interface PendingCompletion {
  slot: Slot;
  result: RunResult;
  /** When the run ended, on the worker's clock (the store's): how long it ran. */
  endedAt: number;
  /** When it was queued, on the monotonic clock: how long it has waited. */
  queuedAt: number;
  settle: (outcome: Promise<RecordedOutcome>) => void;
}

export class CompletionQueue {
  private pending: PendingCompletion[] = [];

  constructor(
    private readonly concurrency: number,
    /** Called once a run is queued: wakes a claim loop waiting for work. */
    private readonly onQueued: () => void,
    private readonly maxMs = COMPLETION_LINGER_MAX_MS,
  ) {}

  /** Queues a finished run; settles with what the round that completes it recorded. */
  add(slot: Slot, result: RunResult, endedAt: number): Promise<RecordedOutcome> {
    const queuedAt = performance.now();
    const recorded = new Promise<RecordedOutcome>((resolve, reject) => {
      this.pending.push({
        slot,
        result,
        endedAt,
        queuedAt,
        settle: (outcome) => outcome.then(resolve, reject),
      });
    });
    this.onQueued();
    return recorded;
  }

  /** Waits while the queued runs should wait for more to share their commit; `waiting()`: jobs claimed ahead. */
  async linger(waiting: () => number): Promise<void> {
    for (let stepsWaited = 0; ; stepsWaited++) {
      const oldest = this.pending[0];
      if (!oldest) return;
      if (
        !keepLingering(
          stepsWaited,
          waiting(),
          this.concurrency,
          performance.now() - oldest.queuedAt,
          this.maxMs,
        )
      )
        return;
      await Bun.sleep(COMPLETION_LINGER_MS);
    }
  }

  /** Every queued run, for one round or to be recorded alone; the queue is empty after. */
  takeAll(): PendingCompletion[] {
    return this.pending.splice(0);
  }
}
