/**
 * Runs that ended well, waiting for the claim loop's next transaction to complete them
 * together with its claims: a commit per job was most of a short job's cost. How long they
 * wait for company is run-gate.ts's rule (keepLingering); a run that ended otherwise is
 * recorded alone at once, and never waits here.
 */

import type { RunResult } from "../store/store.ts";
import type { Slot } from "./attempts.ts";
import type { RecordedOutcome } from "./outcome.ts";
import { COMPLETION_LINGER_MS, keepLingering } from "./run-gate.ts";

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
    for (let lingered = 0; ; lingered++) {
      const oldest = this.pending[0];
      if (!oldest) return;
      if (!keepLingering(lingered, waiting(), this.concurrency, performance.now() - oldest.queuedAt)) return;
      await Bun.sleep(COMPLETION_LINGER_MS);
    }
  }

  /** Every queued run, for one round or to be recorded alone; the queue is empty after. */
  takeAll(): PendingCompletion[] {
    return this.pending.splice(0);
  }
}
