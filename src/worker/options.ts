/**
 * What a Worker is given, and the small questions its loop asks around claiming: its id,
 * whether a draining worker's queues are empty, and a wait that a local event cuts short.
 */

import { randomBytes } from "node:crypto";
import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";

export interface WorkerOptions {
  store: Store;
  /** QUEUECTL_HOME, where job logs go. */
  home: string;
  host: string;
  /** Jobs run at once by this process. */
  concurrency: number;
  /** The most jobs claimed ahead of a free slot while runs are short (run-gate.ts); 0 turns it off. Default 8. */
  prefetch?: number;
  /** How long a job claimed ahead may wait to start; tests lengthen it. Default AHEAD_HOLD_MS (250 ms). */
  aheadHoldMs?: number;
  /** Only claim from these queues; null serves every queue. */
  queues: string[] | null;
  /** Exit once no job is pending, failed (awaiting a retry) or processing. */
  drain: boolean;
  onEvent: (event: WorkerEvent) => void;
  /**
   * This host's wall clock. Default Date.now. On PostgreSQL the worker stamps leases and
   * results on the server's clock, measured against this one (see store-clock.ts).
   */
  now?: () => number;
  /** Recorded in the registry. Default process.pid. */
  pid?: number;
  /** Between SIGTERM and SIGKILL when a job is stopped; tests shorten it. Default KILL_GRACE_MS (5 s). */
  killGraceMs?: number;
}

export function newWorkerId(host: string, pid: number): string {
  return `${host}-${pid}-${randomBytes(3).toString("hex")}`;
}

/** Whether a draining worker is done: nothing pending, failed (awaiting a retry) or running in its queues. */
export async function queueIsEmpty(store: Store, queues: string[] | null): Promise<boolean> {
  if (queues === null) {
    const counts = await store.jobCounts();
    return counts.pending + counts.failed + counts.processing === 0;
  }
  for (const queue of queues) {
    for (const state of ["pending", "failed", "processing"] as const) {
      if ((await store.jobList({ state, queue, limit: 1 })).length > 0) return false;
    }
  }
  return true;
}

/** Waits `ms`, or less when `signal` aborts (a job ended, a stop was asked for). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
