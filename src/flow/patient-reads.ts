/**
 * Reads that wait out a store that cannot be reached, for the commands that wait on jobs
 * (`wait`, `logs --follow`). A PostgreSQL restart or a dropped connection is brief, and
 * workers ride it out; a `wait` that ended with exit 1 at the first one told a CI script
 * that its job had failed. Only reads are retried, and only while the store is unreachable
 * (StoreUnreachableError): these commands write nothing, and any other failure is told as
 * it comes.
 */

import { StoreUnreachableError } from "../core/errors.ts";
import type { Store } from "../store/store.ts";

/** The reads `wait` and `logs --follow` make while they wait. */
const WAITING_READS = new Set<string | symbol>(["jobGet", "attemptList", "changeMarker", "waitForChange"]);

/** Between two tries while the store cannot be reached. */
const RETRY_EVERY_MS = 1000;

export interface Patience {
  /** Epoch ms past which a read fails as it would have (`wait --timeout`). Default: no end. */
  until?: number;
  /** The first read that found the store unreachable, once per outage. */
  onUnreachable: (error: StoreUnreachableError) => void;
  /** The first read that succeeded after an outage. */
  onReachable: () => void;
}

/** `store`, its waiting reads retried every second while it cannot be reached. */
export function patientReads(store: Store, patience: Patience): Store {
  let outage = false;
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || !WAITING_READS.has(property)) return value;
      const read = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (;;) {
          try {
            const result = await read.apply(target, args);
            if (outage) {
              outage = false;
              patience.onReachable();
            }
            return result;
          } catch (error) {
            const left = (patience.until ?? Number.POSITIVE_INFINITY) - Date.now();
            if (!(error instanceof StoreUnreachableError) || left <= 0) throw error;
            if (!outage) {
              outage = true;
              patience.onUnreachable(error);
            }
            await Bun.sleep(Math.min(RETRY_EVERY_MS, left));
          }
        }
      };
    },
  });
}
