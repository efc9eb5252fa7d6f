/**
 * The lease watch: no run outlives its lease because a renewal hangs.
 *
 * The renewal judges its leases after each beat (heartbeat.ts), which covers a beat that
 * fails. A beat can also hang, for one of two reasons the worker cannot tell apart by
 * waiting:
 *
 * - the store is out of reach: a PostgreSQL connection that goes silent (a partition, a
 *   dropped route) is not reset, and its query waits for minutes while another worker
 *   rescues the job and runs it again;
 * - the renewal is queued behind a row lock another transaction holds. Then the lease is
 *   safe: a rescuer would queue behind the renewal and find the lease renewed.
 *
 * So, for each run whose lease has gone a whole period unrenewed, the watch asks the store,
 * with a read that no lock holds up, whether the job is still this attempt's. No answer
 * within PROBE_MS, and the run is stopped as unrenewed; an answer that the job moved on (a
 * rescue took it, or it was canceled in place) stops it as a heartbeat's answer would.
 */

import type { QueueConfig } from "../core/config.ts";
import type { Job } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import type { AttemptBook, Slot } from "./attempts.ts";
import type { LostLease } from "./heartbeat.ts";
import { canceledWhileRunning } from "./lease-loss.ts";
import { PeriodicService } from "./service.ts";

/** How often the watch looks, at most: a lapsed lease is noticed within this. */
const WATCH_MS = 1_000;

/** How long the store has to answer the watch's read, at most (a quarter of the lease if shorter). */
const PROBE_MS = 2_000;

const NO_ANSWER: unique symbol = Symbol("no answer");

/** `read`'s value, or NO_ANSWER if it fails or takes longer than `ms`. */
async function answerWithin<T>(read: Promise<T>, ms: number): Promise<T | typeof NO_ANSWER> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof NO_ANSWER>((resolve) => {
    timer = setTimeout(() => resolve(NO_ANSWER), ms);
  });
  try {
    return await Promise.race([read.catch((): typeof NO_ANSWER => NO_ANSWER), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the store's answer about a slot's job means: still this attempt's (keep running), no
 * answer (stop: the lease cannot be vouched for), or moved on (stop, saying why).
 */
function judge(slot: Slot, row: Job | null | typeof NO_ANSWER): "held" | "unanswered" | LostLease {
  if (row === NO_ANSWER) return "unanswered";
  // A rescue keeps the token and moves the job out of processing (failed, dead or canceled).
  if (row !== null && row.token === slot.job.token && row.state === "processing") return "held";
  return { id: slot.job.id, token: slot.job.token, canceled: canceledWhileRunning(slot.job.token, row) };
}

export interface LeaseWatchParams {
  store: Store;
  slots: AttemptBook;
  config: () => QueueConfig;
  onError: (error: unknown) => void;
}

export function leaseWatch(params: LeaseWatchParams): PeriodicService {
  return new PeriodicService({
    intervalMs: () => Math.min(WATCH_MS, params.config().leaseMs / 10),
    onError: params.onError,
    async tick() {
      const unrenewed = params.slots.unrenewed();
      if (unrenewed.length === 0) return;
      const ms = Math.min(PROBE_MS, params.config().leaseMs / 4);
      // One read for them all, on one connection: a lock held for minutes over many slots
      // must not open a connection per slot every second.
      const answer = await answerWithin(
        params.store.jobsGetApart({ ids: unrenewed.map((slot) => slot.job.id) }),
        ms,
      );
      const rowOf = (index: number): Job | null | typeof NO_ANSWER =>
        answer === NO_ANSWER ? NO_ANSWER : (answer[index] ?? null);
      // A renewal that came back meanwhile decided for itself.
      const still = new Set(params.slots.unrenewed());
      const unanswered: Slot[] = [];
      unrenewed.forEach((slot, index) => {
        if (!still.has(slot)) return;
        const verdict = judge(slot, rowOf(index));
        if (verdict === "unanswered") unanswered.push(slot);
        else if (verdict !== "held") params.slots.lost(verdict);
      });
      params.slots.stopUnrenewed(unanswered);
    },
  });
}
