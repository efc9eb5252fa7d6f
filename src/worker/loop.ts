/**
 * One worker process: claims jobs up to its concurrency, runs them, records how they
 * ended, and keeps its registry row and its jobs' leases alive. Rescue, schedules and
 * retention run beside it as services on timers of their own.
 *
 * The worker's books are kept by attempt, (job, token), never by job alone: a worker that
 * was frozen past its lease may claim the same job again while its older attempt still
 * runs. That attempt is stopped first (its result is then discarded by the fencing token),
 * and the end of one attempt never touches another's slot.
 *
 * Stopping has two steps. `requestStop` (the first SIGTERM or Ctrl-C, or `worker stop
 * --all` through the store) stops claiming and lets running jobs finish. `escalate` (the
 * second signal) stops the running jobs and hands them back to pending without counting
 * the attempt, since the job did nothing wrong.
 */

import { randomBytes } from "node:crypto";
import { heartbeatIntervalMs, type QueueConfig, resolveConfig } from "../core/config.ts";
import { StoreGoneError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { tickSchedules } from "../flow/tick.ts";
import type { Store } from "../store/store.ts";
import { AttemptBook, type Slot } from "./attempts.ts";
import type { WorkerEvent } from "./events.ts";
import { describeConfig, heartbeat, leaseKey } from "./heartbeat.ts";
import { JobReports, progressService } from "./job-reports.ts";
import { recordAttemptRetrying } from "./outcome.ts";
import { rescueService } from "./rescue.ts";
import { retentionService } from "./retention.ts";
import { type RunningJob, runAfter, runJob } from "./run.ts";
import { scheduleTicker } from "./schedule-ticker.ts";
import { PeriodicService } from "./service.ts";
import { webhookDeliveryService } from "./webhook-deliveries.ts";

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
  /** The wall clock for leases and results. Default Date.now. */
  now?: () => number;
  /** Recorded in the registry. Default process.pid. */
  pid?: number;
  /** Between SIGTERM and SIGKILL when a job is stopped; tests shorten it. Default KILL_GRACE_MS (5 s). */
  killGraceMs?: number;
}

export function newWorkerId(host: string, pid: number): string {
  return `${host}-${pid}-${randomBytes(3).toString("hex")}`;
}

export class Worker {
  readonly id: string;
  private readonly now: () => number;
  private readonly pid: number;
  private config!: QueueConfig;
  /** Running attempts; their number never exceeds the concurrency. */
  private readonly slots: AttemptBook;
  private stopping = false;
  private escalated = false;
  /** Aborted to cut the claim loop's wait short; replaced once seen. */
  private wake = new AbortController();
  /** Set when the worker cannot go on (its store vanished); run() rethrows it. */
  private fatal: StoreGoneError | null = null;
  private readonly renewal: PeriodicService;

  constructor(private readonly options: WorkerOptions) {
    this.now = options.now ?? Date.now;
    this.pid = options.pid ?? process.pid;
    this.id = newWorkerId(options.host, this.pid);
    this.slots = new AttemptBook(
      (event) => this.emit(event),
      () => this.config.leaseMs,
    );
    this.renewal = new PeriodicService({
      intervalMs: () => heartbeatIntervalMs(this.config),
      tick: () => this.beat(),
      onError: (error) => this.serviceFailed("heartbeat", error),
    });
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
    const services = [this.renewal, ...this.maintenance()];
    for (const service of services) service.start();
    try {
      await this.claimLoop();
      // Slots that end while others are awaited are gone from the map; new ones cannot start.
      while (this.slots.size > 0) await Promise.all(this.slots.all().map((slot) => slot.finished));
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      await store.workerRemove({ id: this.id }).catch(() => {});
      this.emit({ type: "stopped", workerId: this.id });
    }
    if (this.fatal) throw this.fatal;
  }

  /** Rescue, schedules, retention and webhook deliveries: each on its own timer, none in the renewal's way. */
  private maintenance(): PeriodicService[] {
    const { store, home } = this.options;
    const shared = { store, now: this.now, config: () => this.config };
    return [
      rescueService({
        ...shared,
        ownTokens: () => this.slots.ownTokens(),
        onRescued: (rescue) =>
          this.emit({
            type: "rescued",
            jobId: rescue.job.id,
            fromWorker: rescue.job.worker_id,
            outcome: rescue.outcome,
          }),
        onError: (error) => this.serviceFailed("rescue", error),
      }),
      scheduleTicker({ ...shared, onError: (error) => this.serviceFailed("schedules", error) }),
      retentionService({ ...shared, home, onError: (error) => this.serviceFailed("retention", error) }),
      progressService({
        store,
        running: () => this.slots.all().map((slot) => slot.reports),
        onError: (error) => this.serviceFailed("progress", error),
      }),
      webhookDeliveryService({
        ...shared,
        workerId: this.id,
        onError: (error) => this.serviceFailed("webhooks", error),
      }),
    ];
  }

  private serviceFailed(service: string, error: unknown): void {
    if (error instanceof StoreGoneError) this.giveUp(error);
    else this.emit({ type: "error", message: `${service} failed: ${(error as Error).message}` });
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
    this.emit({ type: "stopping", reason, running: this.slots.size });
    this.poke();
  }

  /** Stop running jobs now and hand them back to pending, attempt not counted. */
  escalate(): void {
    this.requestStop();
    if (this.escalated) return;
    this.escalated = true;
    this.emit({ type: "escalating", running: this.slots.size });
    this.slots.releaseAll();
  }

  /** Renew now instead of at the next heartbeat: a `kill` on this host signals the worker. */
  checkNow(): void {
    this.renewal.poke();
  }

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.wake.signal.aborted) this.wake = new AbortController();
      try {
        if (this.slots.size >= this.options.concurrency) {
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
    if (job) this.start(job, await this.openReports(job));
    return job !== null;
  }

  /** Nothing to claim: exit when draining an empty queue, else wait for a commit or a local event. */
  private async idle(): Promise<void> {
    if (this.options.drain && this.slots.size === 0 && (await this.queueIsEmpty())) {
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

  /** The job's report folder; without one (disk full, store error) it still runs. */
  private openReports(job: Job): Promise<JobReports | null> {
    return JobReports.open({ store: this.options.store, home: this.options.home, job }).catch((error) => {
      this.emit({
        type: "error",
        message: `job ${job.id}: cannot prepare its report files: ${(error as Error).message}`,
      });
      return null;
    });
  }

  private start(job: Job, reports: JobReports | null): void {
    const timeoutMs = job.spec.timeout !== undefined ? job.spec.timeout * 1000 : this.config.jobTimeoutMs;
    const run = () =>
      runJob({
        jobId: job.id,
        spec: job.spec,
        attempt: job.attempts,
        token: job.token,
        home: this.options.home,
        timeoutMs,
        baseEnv: process.env,
        reportEnv: reports?.env,
        killGraceMs: this.options.killGraceMs,
      });
    const handle = this.slots.runs(job.id) ? runAfter(this.slots.supersede(job), run) : run();
    const slot: Slot = {
      key: leaseKey(job),
      job,
      handle,
      startedAt: this.now(),
      releaseReason: null,
      kill: null,
      leaseLost: false,
      renewedAt: performance.now(),
      finished: Promise.resolve(),
      reports,
    };
    slot.finished = handle.done
      .then((result) => this.finish(slot, result))
      .catch((error) => this.emit({ type: "error", message: `job ${job.id}: ${(error as Error).message}` }))
      .finally(() => {
        this.slots.remove(slot);
        this.poke();
      });
    this.slots.add(slot);
    this.emit({
      type: "job-started",
      jobId: job.id,
      attempt: job.attempts,
      maxAttempts: job.max_retries + 1,
      pid: handle.pid,
    });
  }

  private async finish(slot: Slot, ran: Awaited<RunningJob["done"]>): Promise<void> {
    const result = await this.saveReports(slot, ran);
    const now = this.now();
    let recorded: Awaited<ReturnType<typeof recordAttemptRetrying>>;
    try {
      recorded = await recordAttemptRetrying(
        this.options.store,
        {
          job: slot.job,
          result,
          config: this.config,
          now,
          releaseReason: slot.releaseReason,
          kill: slot.kill,
        },
        {
          holdsLease: () => this.slots.holdsLease(slot),
          fatal: (error) => error instanceof StoreGoneError || this.fatal !== null,
          onRetry: (error, waitMs) =>
            this.emit({ type: "record-retry", jobId: slot.job.id, error: error.message, waitMs }),
        },
      );
    } catch (error) {
      if (error instanceof StoreGoneError) throw error;
      this.emit({
        type: "error",
        message: `job ${slot.job.id}: its result could not be recorded before its lease ran out (${(error as Error).message}); the result is given up, and the job will be rescued as a failed attempt`,
      });
      recorded = { outcome: "abandoned", nextRunAt: null };
    }
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

  /** Stores the attempt's last progress and its result before its outcome; a note goes on the attempt. */
  private async saveReports(slot: Slot, result: Awaited<RunningJob["done"]>): Promise<typeof result> {
    let note: string | null;
    try {
      note = (await slot.reports?.finish(this.options.store)) ?? null;
    } catch (error) {
      note = `result not stored: ${(error as Error).message}`;
    }
    return note === null ? result : { ...result, note };
  }

  /** One heartbeat; the renewal service runs it, and stopUnrenewed after each, failed or not. */
  private async beat(): Promise<void> {
    try {
      const beat = await heartbeat(this.options.store, {
        workerId: this.id,
        now: this.now,
        leases: this.slots.leases(),
      });
      if (beat.stopRequested) this.requestStop("requested");
      if (describeConfig(beat.config) !== describeConfig(this.config)) {
        this.config = beat.config;
        this.emit({ type: "config-changed", summary: describeConfig(beat.config) });
      }
      this.slots.applyBeat(beat);
    } finally {
      this.slots.stopUnrenewed();
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
