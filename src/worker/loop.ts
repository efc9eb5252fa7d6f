/**
 * One worker process: claims jobs up to its concurrency, runs them, records how they
 * ended, and keeps its registry row and its jobs' leases alive.
 *
 * Stopping has two steps. `requestStop` (the first SIGTERM or Ctrl-C, or `worker stop
 * --all` through the store) stops claiming and lets running jobs finish. `escalate` (the
 * second signal) stops the running jobs and hands them back to pending without counting
 * the attempt, since the job did nothing wrong.
 */

import { randomBytes } from "node:crypto";
import { type QueueConfig, resolveConfig } from "../core/config.ts";
import { StoreGoneError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { tickSchedules } from "../flow/tick.ts";
import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { describeConfig, heartbeat, heartbeatIntervalMs } from "./heartbeat.ts";
import { LeaseSightings, recordAttempt } from "./outcome.ts";
import { type RunningJob, runJob } from "./run.ts";

export interface WorkerOptions {
  store: Store;
  /** QUEUECTL_HOME, where job logs go. */
  home: string;
  host: string;
  /** Jobs run at once by this process. */
  concurrency: number;
  /** Only claim from these queues; null serves every queue. */
  queues: string[] | null;
  /** Exit once no job is pending, failed (awaiting a retry) or processing. */
  drain: boolean;
  onEvent: (event: WorkerEvent) => void;
  now?: () => number;
  pid?: number;
}

interface Slot {
  job: Job;
  handle: RunningJob;
  startedAt: number;
  /** Set by escalate: the result is dropped and the job goes back to pending. */
  releaseReason: string | null;
  leaseLost: boolean;
  /** Monotonic time (performance.now) the lease was last known to be this worker's: claim or renewal. */
  renewedAt: number;
  finished: Promise<void>;
}

export function newWorkerId(host: string, pid: number): string {
  return `${host}-${pid}-${randomBytes(3).toString("hex")}`;
}

export class Worker {
  readonly id: string;
  private readonly now: () => number;
  private readonly pid: number;
  private config!: QueueConfig;
  private readonly running = new Map<string, Slot>();
  private stopping = false;
  private escalated = false;
  /** Aborted to cut the claim loop's wait short; replaced once seen. */
  private wake = new AbortController();
  /** Other workers' expired leases, confirmed on a monotonic clock before they are rescued. */
  private readonly sightings = new LeaseSightings();
  /** Aborted once, when the worker is done, to end the heartbeat loop's last wait. */
  private readonly done = new AbortController();
  /** Set when the worker cannot go on (its store vanished); run() rethrows it. */
  private fatal: StoreGoneError | null = null;

  constructor(private readonly options: WorkerOptions) {
    this.now = options.now ?? Date.now;
    this.pid = options.pid ?? process.pid;
    this.id = newWorkerId(options.host, this.pid);
  }

  /** Runs until stopped (or drained), then deregisters. */
  async run(): Promise<void> {
    const { store } = this.options;
    this.config = resolveConfig(await store.configGetAll());
    await store.workerRegister({
      id: this.id,
      host: this.options.host,
      pid: this.pid,
      now: this.now(),
      queues: this.options.queues,
    });
    this.emit({
      type: "started",
      workerId: this.id,
      pid: this.pid,
      concurrency: this.options.concurrency,
      queues: this.options.queues,
    });
    const heartbeats = this.heartbeatLoop();
    try {
      await this.claimLoop();
      await Promise.all([...this.running.values()].map((slot) => slot.finished));
    } finally {
      this.done.abort();
      await heartbeats;
      await store.workerRemove({ id: this.id }).catch(() => {});
      this.emit({ type: "stopped", workerId: this.id });
    }
    if (this.fatal) throw this.fatal;
  }

  /**
   * The store is gone for good: running jobs are stopped (their results could not be
   * recorded anywhere anyone looks) and the worker exits with the error.
   */
  private giveUp(error: StoreGoneError): void {
    if (this.fatal) return;
    this.fatal = error;
    this.escalate();
  }

  /** Stop claiming; running jobs finish. Idempotent. */
  requestStop(reason: "signal" | "requested" | "drained" = "signal"): void {
    if (this.stopping) return;
    this.stopping = true;
    this.emit({ type: "stopping", reason, running: this.running.size });
    this.poke();
  }

  /** Stop running jobs now and hand them back to pending, attempt not counted. */
  escalate(): void {
    this.requestStop();
    if (this.escalated) return;
    this.escalated = true;
    this.emit({ type: "escalating", running: this.running.size });
    for (const slot of this.running.values()) {
      // A job that already exited keeps its result; only running ones go back to pending.
      if (slot.handle.exited) continue;
      slot.releaseReason = "stopped by `worker stop` before it finished; back to pending";
      slot.handle.stop("stopped before it finished");
    }
  }

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.wake.signal.aborted) this.wake = new AbortController();
      try {
        if (this.running.size >= this.options.concurrency) {
          await sleep(this.config.pollIntervalMs, this.wake.signal);
        } else if (!(await this.claimOne())) {
          await this.idle();
        }
      } catch (error) {
        if (error instanceof StoreGoneError) {
          this.giveUp(error);
          break;
        }
        // A locked or unreachable store is usually brief; the loop carries on after a pause.
        this.emit({ type: "error", message: `store: ${(error as Error).message}` });
        await sleep(this.config.pollIntervalMs, this.wake.signal);
      }
    }
  }

  /** Claims and starts one job; false when none is runnable now. */
  private async claimOne(): Promise<boolean> {
    const job = await this.options.store.jobClaim({
      workerId: this.id,
      host: this.options.host,
      now: this.now(),
      leaseMs: this.config.leaseMs,
      queues: this.options.queues,
    });
    if (job) this.start(job);
    return job !== null;
  }

  /** Nothing to claim: exit when draining an empty queue, else wait for a commit or a local event. */
  private async idle(): Promise<void> {
    if (this.options.drain && this.running.size === 0 && (await this.queueIsEmpty())) {
      this.requestStop("drained");
      return;
    }
    // An idle worker fires due schedules itself, so an occurrence starts within one poll.
    if ((await tickSchedules(this.options.store, this.now())).enqueued.length > 0) return;
    await this.options.store.waitForChange({
      timeoutMs: this.config.pollIntervalMs,
      signal: this.wake.signal,
    });
  }

  private start(job: Job): void {
    const timeoutMs = job.spec.timeout !== undefined ? job.spec.timeout * 1000 : this.config.jobTimeoutMs;
    const handle = runJob({
      jobId: job.id,
      spec: job.spec,
      attempt: job.attempts,
      token: job.token,
      home: this.options.home,
      timeoutMs,
      baseEnv: process.env,
    });
    const slot: Slot = {
      job,
      handle,
      startedAt: this.now(),
      releaseReason: null,
      leaseLost: false,
      renewedAt: performance.now(),
      finished: Promise.resolve(),
    };
    slot.finished = handle.done
      .then((result) => this.finish(slot, result))
      .catch((error) => this.emit({ type: "error", message: `job ${job.id}: ${(error as Error).message}` }))
      .finally(() => {
        this.running.delete(job.id);
        this.poke();
      });
    this.running.set(job.id, slot);
    this.emit({
      type: "job-started",
      jobId: job.id,
      attempt: job.attempts,
      maxAttempts: job.max_retries + 1,
      pid: handle.pid,
    });
  }

  private async finish(slot: Slot, result: Awaited<RunningJob["done"]>): Promise<void> {
    const now = this.now();
    const recorded = await recordAttempt(this.options.store, {
      job: slot.job,
      result,
      config: this.config,
      now,
      releaseReason: slot.releaseReason,
    });
    this.emit({
      type: "job-finished",
      jobId: slot.job.id,
      attempt: slot.job.attempts,
      outcome: recorded.outcome,
      durationMs: now - slot.startedAt,
      error: result.error,
      nextRunAt: recorded.nextRunAt,
    });
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.done.signal.aborted) {
      try {
        await this.heartbeat();
      } catch (error) {
        if (error instanceof StoreGoneError) this.giveUp(error);
        else this.emit({ type: "error", message: `heartbeat failed: ${(error as Error).message}` });
      }
      this.stopUnrenewed();
      await sleep(heartbeatIntervalMs(this.config), this.done.signal);
    }
  }

  /**
   * A lease this worker could not renew for a whole lease period (the store is unreachable,
   * full or gone) may already be another worker's, who can run the job again: stop this run
   * rather than let two overlap.
   */
  private stopUnrenewed(): void {
    const now = performance.now();
    for (const slot of this.running.values()) {
      if (slot.leaseLost || slot.handle.exited || now - slot.renewedAt < this.config.leaseMs) continue;
      slot.leaseLost = true;
      this.emit({
        type: "error",
        message: `job ${slot.job.id}: its lease could not be renewed for ${this.config.leaseMs / 1000}s; stopping it, since another worker may run it now`,
      });
      slot.handle.stop("lease expired: the store could not be reached to renew it");
    }
  }

  private async heartbeat(): Promise<void> {
    const beganAt = performance.now();
    const leases = [...this.running.values()].map((slot) => ({ id: slot.job.id, token: slot.job.token }));
    const beat = await heartbeat(this.options.store, {
      workerId: this.id,
      now: this.now,
      leases,
      sightings: this.sightings,
    });
    if (beat.stopRequested) this.requestStop("requested");
    if (describeConfig(beat.config) !== describeConfig(this.config)) {
      this.config = beat.config;
      this.emit({ type: "config-changed", summary: describeConfig(beat.config) });
    }
    const lost = new Set(beat.lost.map((lease) => `${lease.id}\0${lease.token}`));
    for (const lease of leases) {
      const slot = this.running.get(lease.id);
      if (slot && slot.job.token === lease.token && !lost.has(`${lease.id}\0${lease.token}`))
        slot.renewedAt = beganAt;
    }
    for (const lease of beat.lost) {
      const slot = this.running.get(lease.id);
      // A job that finished meanwhile has no lease left to renew; that is not a loss.
      if (!slot || slot.job.token !== lease.token || slot.leaseLost || slot.handle.exited) continue;
      slot.leaseLost = true;
      this.emit({ type: "lease-lost", jobId: slot.job.id });
      slot.handle.stop("lease lost: another worker rescued the job");
    }
    for (const rescue of beat.rescued) {
      this.emit({
        type: "rescued",
        jobId: rescue.job.id,
        fromWorker: rescue.job.worker_id,
        outcome: rescue.outcome,
      });
    }
  }

  private async queueIsEmpty(): Promise<boolean> {
    const { store, queues } = this.options;
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

  private poke(): void {
    this.wake.abort();
  }

  private emit(event: WorkerEvent): void {
    this.options.onEvent(event);
  }
}

/** Waits `ms`, or less when `signal` aborts (a job ended, a stop was asked for). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
