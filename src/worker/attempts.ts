/**
 * A worker's own books: the attempts it runs, keyed by (job, token) and never by job
 * alone, and what it knows of each one's lease. Every decision about a running attempt
 * that follows from a heartbeat (renewed, lost, killed, unrenewed for too long) or from a
 * second stop signal is taken here; the loop only claims, starts and records.
 */

import { ATTEMPT_ERROR_TEXTS } from "../core/attempt-outcome.ts";
import type { Job } from "../core/job.ts";
import type { HeldLease, KillMode } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { type Beat, type LostLease, leaseKey } from "./heartbeat.ts";
import type { JobReports } from "./job-reports.ts";
import { KILLED_BY_USER, KILLED_BY_USER_RETRY } from "./kill.ts";
import type { QueuedRun } from "./run-gate.ts";

export interface Slot {
  /** leaseKey(job): the attempt, not the job. */
  key: string;
  job: Job;
  handle: QueuedRun;
  /** When its run started; until then, when it was claimed. */
  startedAt: number;
  /** Set by escalate: the result is dropped and the job goes back to pending. */
  releaseReason: string | null;
  /** Set when a `kill` stopped this run. */
  kill: KillMode | null;
  leaseLost: boolean;
  /** Monotonic time (performance.now) the lease was last known to be this worker's: claim or renewal. */
  renewedAt: number;
  finished: Promise<void>;
  /** Its run has ended; it may still wait to be recorded (completion-queue.ts). */
  ended: boolean;
  /** Its progress and result files (job-reports.ts); null when they could not be made. */
  reports: JobReports | null;
}

/** The slot of a job just claimed: its lease was renewed by the claim itself. */
export function claimedSlot(job: Job, handle: QueuedRun, reports: JobReports | null, now: number): Slot {
  return {
    key: leaseKey(job),
    job,
    handle,
    startedAt: now,
    releaseReason: null,
    kill: null,
    leaseLost: false,
    renewedAt: performance.now(),
    finished: Promise.resolve(),
    ended: false,
    reports,
  };
}

export class AttemptBook {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly emit: (event: WorkerEvent) => void,
    private readonly leaseMs: () => number,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  all(): Slot[] {
    return [...this.slots.values()];
  }

  /**
   * Attempts whose main process started and has not exited: not those waiting to start, nor
   * those whose slot already went to the next job while their leftovers are stopped and
   * their outcome recorded.
   */
  running(): number {
    // A run that ended had exited first: `ended` adds nothing here.
    return this.all().filter((slot) => slot.handle.started && !slot.handle.exited).length;
  }

  add(slot: Slot): void {
    this.slots.set(slot.key, slot);
  }

  /** Removes exactly this attempt, whatever else runs for the same job. */
  remove(slot: Slot): void {
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
  }

  /** Whether attempt (job, token) is in these books, whatever its state. */
  holds(id: string, token: number): boolean {
    return this.slots.has(leaseKey({ id, token }));
  }

  runs(jobId: string): boolean {
    return this.all().some((slot) => slot.job.id === jobId);
  }

  /** The leases to renew: every attempt not known to be lost. */
  leases(): HeldLease[] {
    return this.all()
      .filter((slot) => !slot.leaseLost)
      .map((slot) => ({ id: slot.job.id, token: slot.job.token }));
  }

  /** The newest token this worker runs of each job, which its own rescue must leave alone. */
  ownTokens(): Map<string, number> {
    const tokens = new Map<string, number>();
    for (const { job } of this.slots.values())
      tokens.set(job.id, Math.max(job.token, tokens.get(job.id) ?? 0));
    return tokens;
  }

  /**
   * `job` was claimed again: its older attempts here lost their lease long ago. They are
   * stopped; resolves once they exited, so the new attempt never runs beside them.
   */
  supersede(job: Job): Promise<unknown> {
    const older = this.all().filter((slot) => slot.job.id === job.id);
    for (const slot of older) {
      slot.leaseLost = true;
      if (slot.handle.stop("stopped: its lease was lost and the job was claimed again")) {
        this.emit({ type: "superseded", jobId: job.id, attempt: slot.job.attempts });
      }
    }
    return Promise.all(older.map((slot) => slot.handle.done.catch(() => {})));
  }

  holdsLease(slot: Slot): boolean {
    return !slot.leaseLost && performance.now() - slot.renewedAt < this.leaseMs();
  }

  applyBeat(beat: Beat): void {
    for (const lease of beat.renewed) {
      const slot = this.slots.get(leaseKey(lease));
      if (!slot) continue;
      slot.renewedAt = beat.renewedAt;
      if (lease.killRequested) this.kill(slot, lease.killRequested);
    }
    for (const lease of beat.lost) this.lost(lease);
  }

  /** The store says the job is no longer this attempt's: taken over, or canceled in place. */
  lost(lease: LostLease): void {
    const slot = this.slots.get(leaseKey(lease));
    if (!slot || slot.leaseLost) return;
    slot.leaseLost = true;
    // A job that finished meanwhile has no lease left to renew; that is not a loss.
    if (lease.canceled !== null) {
      if (slot.handle.stop(`canceled while it ran: ${lease.canceled}`))
        this.emit({ type: "canceled-while-running", jobId: slot.job.id, reason: lease.canceled });
    } else if (slot.handle.stop("lease lost: another worker rescued the job")) {
      this.emit({ type: "lease-lost", jobId: slot.job.id });
    }
  }

  private kill(slot: Slot, mode: KillMode): void {
    // A plain kill while a `kill --retry` stops the run: the user now wants it gone for good,
    // and the store already says so (the later request replaced the earlier one).
    if (slot.kill === "retry" && mode === "cancel") {
      slot.kill = mode;
      this.emit({ type: "killing", jobId: slot.job.id, retry: false });
      return;
    }
    if (slot.kill !== null) return;
    if (!slot.handle.stop(mode === "retry" ? KILLED_BY_USER_RETRY : KILLED_BY_USER)) {
      // Already being stopped (a timeout, a lost lease, a stopping worker): the kill decides
      // how the attempt is recorded, also once its main process has died of that stop (its
      // leftovers are still being stopped), as the store does for a kill read too late
      // (outcome.ts). A main process that exited by itself, seen or not yet seen (a zombie,
      // as stop() judges it), keeps its own outcome.
      if (slot.handle.stopped) slot.kill = mode;
      return;
    }
    slot.kill = mode;
    this.emit({ type: "killing", jobId: slot.job.id, retry: mode === "retry" });
  }

  /** The runs whose lease this worker has not renewed for a whole lease period. */
  unrenewed(): Slot[] {
    const now = performance.now();
    const leaseMs = this.leaseMs();
    return this.all().filter((slot) => !slot.leaseLost && now - slot.renewedAt >= leaseMs);
  }

  /**
   * A lease this worker could not renew for a whole lease period (the store is unreachable,
   * full or gone) may already be another worker's, who can run the job again: stop this run
   * rather than let two overlap. Called after each renewal ends, judged by the last one that
   * succeeded, and by the lease watch (lease-watch.ts) for the runs it could not vouch for.
   */
  stopUnrenewed(slots: Slot[] = this.unrenewed()): void {
    const leaseMs = this.leaseMs();
    for (const slot of slots) {
      if (slot.leaseLost) continue;
      slot.leaseLost = true;
      if (slot.handle.stop("lease expired: the store could not be reached to renew it")) {
        this.emit({
          type: "error",
          message: `job ${slot.job.id}: its lease could not be renewed for ${leaseMs / 1000}s; stopping it, since another worker may run it now`,
        });
      }
    }
  }

  /** A job claimed ahead that is still waiting to start goes back to pending (run-gate.ts). */
  handBack(slot: Slot): void {
    if (slot.handle.started || !slot.handle.stop("handed back before it started")) return;
    slot.releaseReason = "handed back before it started";
  }

  /** The worker is stopping: nothing claimed ahead starts any more. */
  handBackUnstarted(): void {
    for (const slot of this.slots.values()) this.handBack(slot);
  }

  /**
   * The second stop signal: running jobs go back to pending, attempt not counted. A run
   * already being stopped (timed out, killed, lease lost) keeps that reason and its
   * outcome, and a job that already exited keeps its result.
   */
  releaseAll(): void {
    for (const slot of this.slots.values()) {
      if (slot.handle.stop("stopped before it finished")) {
        // `worker stop`, a second Ctrl-C, or systemd's SIGTERM: the worker cannot tell which.
        slot.releaseReason = ATTEMPT_ERROR_TEXTS.released[1];
      }
    }
  }
}
