/**
 * What a Worker is given, and the small questions its loop asks around claiming: its id,
 * whether a draining worker's queues are empty, and a wait that a local event cuts short.
 */

import { randomHex } from "../core/random-hex.ts";
import type { QueueInfo, Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { pidSpaceTag } from "./process-info.ts";

export interface WorkerOptions {
  store: Store;
  /** QUEUECTL_HOME, where job logs go. */
  home: string;
  host: string;
  /** Jobs run at once by this process. */
  concurrency: number;
  /** The most jobs claimed ahead of a free slot while runs are short (run-gate.ts); 0 turns it off. Default 8 on SQLite, 32 on PostgreSQL (DEFAULT_PREFETCH). */
  prefetch?: number;
  /** How long a job claimed ahead may wait to start; tests lengthen it. Default AHEAD_HOLD_MS (250 ms). */
  aheadHoldMs?: number;
  /** How long finished runs may wait for others to share a commit; tests lengthen it. Default COMPLETION_LINGER_MAX_MS (20 ms). */
  lingerMaxMs?: number;
  /** Only claim from these queues; null serves every queue. */
  queues: string[] | null;
  /** Exit once no job is pending, failed (awaiting a retry) or processing, paused queues' waiting jobs aside. */
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

/**
 * `host-pid-random@tag`: the tag says where the pid means something (pidSpaceTag), so only
 * this process's own pid gets it; a pid given for it (tests of workers elsewhere) does not.
 */
export function newWorkerId(host: string, pid: number): string {
  const tag = pid === process.pid ? pidSpaceTag() : null;
  return `${host}-${pid}-${randomHex(3)}${tag === null ? "" : `@${tag}`}`;
}

/** What a draining worker sees in its queues when it finds nothing to claim. */
export interface DrainCheck {
  /** Nothing it could run is left: no job pending, failed (awaiting a retry) or running. */
  done: boolean;
  /** Jobs left waiting in paused queues, which no worker will start until they are resumed, and those queues. */
  waitingInPaused: number;
  pausedQueues: string[];
}

/**
 * A paused queue's waiting jobs do not hold a draining worker: nothing would start them, so
 * `--drain` in a script would hang without a word. Its running jobs still count.
 */
export function drainVerdict(queues: QueueInfo[], served: string[] | null): DrainCheck {
  const check: DrainCheck = { done: true, waitingInPaused: 0, pausedQueues: [] };
  for (const queue of queues) {
    if (served !== null && !served.includes(queue.name)) continue;
    const waiting = queue.counts.pending + queue.counts.failed;
    if (queue.counts.processing > 0 || (waiting > 0 && !queue.paused)) check.done = false;
    if (queue.paused && waiting > 0) {
      check.waitingInPaused += waiting;
      check.pausedQueues.push(queue.name);
    }
  }
  return check;
}

/**
 * Cheap reads first: queueList counts the whole jobs table, so it is read only when a queue
 * is paused and jobs wait, which is when its counts by queue can change the answer.
 */
export async function drainCheck(store: Store, queues: string[] | null): Promise<DrainCheck> {
  const [paused, left] = await Promise.all([store.queuePausedList(), jobsLeft(store, queues)]);
  if (!left || paused.length === 0) return { done: !left, waitingInPaused: 0, pausedQueues: [] };
  const all = await store.queueList();
  const verdict = drainVerdict(all, queues);
  // Jobs of open queues that wait (`after`) on a paused queue's jobs cannot start either. A
  // worker that serves every queue tells: nothing runs, and no job of an open queue is
  // claimable now or later (the store's next due time leaves out jobs that wait). One that
  // serves some queues cannot: another worker may run what they wait on.
  if (verdict.done || verdict.waitingInPaused === 0 || queues !== null) return verdict;
  if (all.some((queue) => queue.counts.processing > 0)) return verdict;
  const nextDue = await store.jobNextDueAt({ queues: null, after: Number.MIN_SAFE_INTEGER });
  return nextDue === null ? { ...verdict, done: true } : verdict;
}

/** Whether any job is pending, failed (awaiting a retry) or running in `queues` (null: all). */
async function jobsLeft(store: Store, queues: string[] | null): Promise<boolean> {
  if (queues === null) {
    const counts = await store.jobCounts();
    return counts.pending + counts.failed + counts.processing > 0;
  }
  for (const queue of queues) {
    for (const state of ["pending", "failed", "processing"] as const) {
      if ((await store.jobList({ state, queue, limit: 1 })).length > 0) return true;
    }
  }
  return false;
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
