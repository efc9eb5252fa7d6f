/**
 * Claims whose answer was lost. A claim round commits on the server and only then answers;
 * when the connection drops in between (PostgreSQL restarting, a terminated backend, a
 * network cut), the round fails here although its claims hold: rows in `processing` under
 * this worker's id and a new token, which it never starts and never renews. Left alone,
 * each would sit out its lease and be rescued as a failed attempt of a run that never
 * happened; a job with `max_retries: 0` would go to the DLQ without having run once.
 *
 * So after a failed round the worker looks, before its next one, for jobs it holds but does
 * not know, and hands each back as a claim that never started: no attempt counted, its
 * place in line kept (the store's `jobRelease` with `unstarted`). An attempt that did run,
 * but whose end could not be recorded while its lease held (abandoned), is known too: it
 * stays in `processing` for the rescue, which counts it, and is never handed back as unrun.
 */

import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { leaseKey } from "./heartbeat.ts";

/** What LostClaims asks of the worker's books: whether they hold attempt (job, token). */
export interface KnownAttempts {
  holds(id: string, token: number): boolean;
}

export class LostClaims {
  private suspected = false;
  /** Attempts that ran and whose end was not recorded, by leaseKey: the rescue's to judge. */
  private readonly abandonedKeys = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly workerId: string,
    private readonly books: KnownAttempts,
    private readonly now: () => number,
    private readonly emit: (event: WorkerEvent) => void,
  ) {}

  /** Attempt (job, token) ran, and its end could not be recorded. */
  abandoned(id: string, token: number): void {
    this.abandonedKeys.add(leaseKey({ id, token }));
  }

  /** A round failed: whatever it claimed may have committed. */
  suspect(): void {
    this.suspected = true;
  }

  /**
   * Hands back what a failed round may have claimed, once the store answers again; until
   * then this throws, as the round would, and the suspicion stays for the next call.
   * Returns how many it handed back.
   */
  async settle(): Promise<number> {
    if (!this.suspected) return 0;
    const { store, workerId, books, now, emit } = this;
    const { jobs } = await store.jobPage({ states: ["processing"], limit: null, order: "oldest" });
    let handedBack = 0;
    const stillHeld = new Set<string>();
    for (const job of jobs) {
      if (job.worker_id !== workerId) continue;
      const key = leaseKey(job);
      stillHeld.add(key);
      if (books.holds(job.id, job.token) || this.abandonedKeys.has(key)) continue;
      const reason = "handed back before it started";
      if (await store.jobRelease({ id: job.id, token: job.token, now: now(), reason, unstarted: true })) {
        handedBack++;
        emit({
          type: "error",
          message: `job ${job.id}: claimed by a round whose answer the store lost; handed back unstarted, no attempt counted`,
        });
      }
    }
    // Rescued since, or recorded after all: nothing to keep them for.
    for (const key of this.abandonedKeys) if (!stillHeld.has(key)) this.abandonedKeys.delete(key);
    this.suspected = false;
    return handedBack;
  }
}
