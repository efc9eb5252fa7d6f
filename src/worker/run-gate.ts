/**
 * Claiming ahead. A worker that runs short jobs spends as long recording each one and
 * claiming the next as the job itself runs, and a slot waits through all of it. So after a
 * round that completed a short job, the worker claims a few jobs more than it has free
 * slots; they wait here, and the moment a run's main process exits the next one starts,
 * while the finished run's leftovers are stopped, its outcome recorded and the next claims
 * made beside it.
 *
 * What must hold:
 * - never more than `concurrency` jobs' main processes at once: a claimed job starts only
 *   when it is let in (what a finished job left running is being stopped meanwhile);
 * - a job claimed ahead does not sit with a busy worker while another could run it: if no
 *   run ends within the hold time (AHEAD_HOLD_MS) it is handed back, unstarted (see AttemptBook.handBack);
 * - a stop before the start means no start, and the place it waited for goes to the next.
 */

import type { Store } from "../store/store.ts";
import { signalGroup } from "./group-signals.ts";
import { failedRun, notStarted, type RunningJob } from "./run.ts";

/** A job claimed ahead that has not started by then goes back to pending (RunGate's default). */
export const AHEAD_HOLD_MS = 250;

/**
 * Jobs claimed ahead by default (`--prefetch`), fewer when runs are longer (claimsAhead).
 * They keep the slots busy while a round records what ended and claims the next: a round
 * on SQLite takes a fraction of a millisecond, one on PostgreSQL a network round trip and
 * the server's flush of its commit, several times a short job's run. With 8 ahead a
 * PostgreSQL worker running `true` jobs left both cores of a two-core machine idle a fifth
 * of the time; 32 ran the same 5,000 jobs 14-23 % sooner at 2 and 4 slots, and made no
 * difference beyond the noise on SQLite (bench/RESULTS.md).
 */
export const DEFAULT_PREFETCH = { sqlite: 8, postgres: 32 } as const satisfies Record<
  Store["backend"],
  number
>;

interface Ticket {
  /** Whether it had to wait in line. */
  queued: boolean;
  cancel(): void;
}

/** At most `limit` runs at once, let in first come, first served. */
export class RunGate {
  private running = 0;
  private readonly queue: ((admitted: boolean) => void)[] = [];

  /** `holdMs`: how long a run that had to wait in line may wait before its `onHeld`. */
  constructor(
    private readonly limit: number,
    readonly holdMs = AHEAD_HOLD_MS,
  ) {}

  /**
   * `admit` is called once: true when the run may start, false when canceled first. A run
   * let in at once hears it in a microtask, after its caller has finished setting it up; one
   * that waited hears it inside `leave`, so it starts the moment a place frees.
   */
  ticket(admit: (admitted: boolean) => void): Ticket {
    if (this.running < this.limit && this.queue.length === 0) {
      this.running++;
      queueMicrotask(() => admit(true));
      return { queued: false, cancel: () => {} };
    }
    this.queue.push(admit);
    return {
      queued: true,
      cancel: () => {
        const index = this.queue.indexOf(admit);
        if (index < 0) return;
        this.queue.splice(index, 1);
        admit(false);
      },
    };
  }

  /** Runs in line for a place. */
  get waiting(): number {
    return this.queue.length;
  }

  /** A run ended: its place goes to the first in line. */
  leave(): void {
    const next = this.queue.shift();
    if (next) next(true);
    else this.running--;
  }
}

/** A run waiting for the gate (and for `previous`, an older attempt still being stopped). */
export interface QueuedRun extends RunningJob {
  /** Whether the run was let in and started (it may have ended since). */
  readonly started: boolean;
}

/**
 * Jobs to claim beyond the free slots after a round that completes runs of these lengths: as
 * many as the slots can start within half the hold time if the next runs are as long, up to
 * `prefetch`. None without a completed run, and none once runs take half the hold time or
 * more: then there is time to claim after a run ends, and a job claimed ahead would wait.
 */
export function claimsAhead(runMs: number[], concurrency: number, prefetch: number, holdMs: number): number {
  if (runMs.length === 0) return 0;
  const meanMs = Math.max(1, runMs.reduce((sum, ms) => sum + ms, 0) / runMs.length);
  return Math.min(prefetch, Math.floor((concurrency * holdMs) / 2 / meanMs));
}

/**
 * `start` once `previous` (if any) has settled and the gate lets it in. A stop before that
 * cancels its ticket; the run never starts, and `done` settles as soon as `previous` has.
 * `onHeld` is called when a run that had to wait in line has waited the gate's hold time.
 *
 * The place is given up when the run's main process exits (`start`'s `onExit`), before the
 * run's leftovers are cleaned up and its output closed: the next short job starts first,
 * and that cleanup runs while it does.
 */
export function runQueued(
  gate: RunGate,
  previous: Promise<unknown> | null,
  start: (onExit: () => void) => RunningJob,
  onHeld: () => void,
): QueuedRun {
  let started: RunningJob | null = null;
  let stopReason: string | null = null;
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    gate.leave();
  };
  let settle!: (run: RunningJob) => void;
  // A run whose end the worker failed to read (its logs' close, its group's cleanup) still
  // ran: it is recorded as a failed attempt, never left for the books to lose.
  const done = new Promise<RunningJob>((resolve) => {
    settle = resolve;
  })
    .then((run) => run.done)
    .catch((error) => {
      // Its leftovers may not have been stopped yet: none may run beside the retry.
      if (started?.pid) signalGroup(started.pid, "SIGKILL");
      return failedRun(`the worker failed as the command ended: ${(error as Error).message}`);
    });
  const launch = (admitted: boolean): void => {
    clearTimeout(holdTimer);
    if (!admitted || stopReason !== null) {
      if (admitted) leave();
      settle(notStarted(stopReason ?? "not started"));
      return;
    }
    try {
      started = start(leave);
    } catch (error) {
      leave();
      settle(notStarted(`cannot start: ${(error as Error).message}`));
      return;
    }
    started.done.then(leave, leave);
    settle(started);
  };
  // An older attempt still being stopped is waited for first (rare: a job claimed again).
  const ticket = gate.ticket(
    previous === null
      ? launch
      : (admitted) => {
          void previous.then(
            () => launch(admitted),
            () => launch(admitted),
          );
        },
  );
  if (ticket.queued) holdTimer = setTimeout(onHeld, gate.holdMs);
  return {
    get pid() {
      return started?.pid ?? null;
    },
    done,
    stop(reason: string): boolean {
      if (started) return started.stop(reason);
      if (stopReason !== null) return false;
      stopReason = reason;
      clearTimeout(holdTimer);
      ticket.cancel();
      return true;
    },
    get exited() {
      return started?.exited ?? false;
    },
    get stopped() {
      return started?.stopped ?? false;
    },
    get started() {
      return started !== null;
    },
  };
}
