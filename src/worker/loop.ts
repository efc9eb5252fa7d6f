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

import { type QueueConfig, resolveConfig } from "../core/config.ts";
import { StoreGoneError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { type ResourceLimits, resolveLimits } from "../core/resource-limits.ts";
import type { RunResult } from "../store/store.ts";
import { AttemptBook, claimedSlot, type Slot } from "./attempts.ts";
import { CompletionQueue, type PendingCompletion } from "./completion-queue.ts";
import { jobFinished, jobStarted, type WorkerEvent } from "./events.ts";
import { type Beat, describeConfig, renewalService } from "./heartbeat.ts";
import { finishReports, type JobReports, openReports } from "./job-reports.ts";
import { explainDiscarded } from "./lease-loss.ts";
import { LostClaims } from "./lost-claims.ts";
import { maintenanceServices } from "./maintenance.ts";
import { type DrainCheck, drainCheck, newWorkerId, sleep, type WorkerOptions } from "./options.ts";
import { RECORD_RETRY_FIRST_MS, type RecordedOutcome, recordAttemptOrAbandon, succeeded } from "./outcome.ts";
import { Reaper } from "./reaper.ts";
import { LimitsNote } from "./resource-limits.ts";
import { prepareRun, type RunningJob, startRun } from "./run.ts";
import { claimsAhead, DEFAULT_PREFETCH, RunGate, runQueued } from "./run-gate.ts";
import { tickAndReport } from "./schedule-ticker.ts";
import type { PeriodicService } from "./service.ts";
import { StoreClock } from "./store-clock.ts";

export type { WorkerOptions };
export { newWorkerId };

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
  private readonly clock: StoreClock;
  /** Kills this worker's job groups if it dies; one per run. */
  private reaper: Reaper | null = null;
  /** Queues' default resource limits, re-read with the config at each heartbeat. */
  private queueLimits: Record<string, ResourceLimits> = {};
  /** Runs that ended well, completed with the next claims in one transaction (see claimLoop). */
  private readonly completions: CompletionQueue;
  /** Lets at most `concurrency` of the claimed jobs run at once (run-gate.ts). */
  private readonly gate: RunGate;
  /** The most jobs claimed beyond the free slots (run-gate.ts); 0 claims only for free slots. */
  private readonly prefetch: number;
  /** The environment jobs start from, read once: spreading process.env itself cost each job more. */
  private baseEnv: Record<string, string | undefined> = {};
  private readonly lostClaims: LostClaims;

  constructor(private readonly options: WorkerOptions) {
    const clock = new StoreClock(options.store, options.now);
    this.clock = clock;
    this.now = () => clock.now();
    this.pid = options.pid ?? process.pid;
    this.gate = new RunGate(options.concurrency, options.aheadHoldMs);
    this.prefetch = options.prefetch ?? DEFAULT_PREFETCH[options.store.backend];
    this.completions = new CompletionQueue(options.concurrency, () => this.poke(), options.lingerMaxMs);
    this.id = newWorkerId(options.host, this.pid);
    this.slots = new AttemptBook(
      (event) => this.emit(event),
      () => this.config.leaseMs,
    );
    this.lostClaims = new LostClaims(options.store, this.id, this.slots, this.now, (event) =>
      this.emit(event),
    );
    this.renewal = renewalService({
      store: options.store,
      workerId: this.id,
      registration: { host: options.host, pid: this.pid, queues: options.queues },
      clock,
      config: () => this.config,
      leases: () => this.slots.leases(),
      onBeat: (beat) => this.applyBeat(beat),
      afterBeat: () => this.slots.stopUnrenewed(),
      onError: (error) => this.serviceFailed("heartbeat", error),
    });
  }

  /** Runs until stopped (or drained), then deregisters. */
  async run(): Promise<void> {
    const { store } = this.options;
    this.baseEnv = { ...process.env };
    await this.clock.sync();
    this.config = resolveConfig(await store.configGetAll());
    this.queueLimits = await store.queueLimitsList();
    const { concurrency, queues, host } = this.options;
    await store.workerRegister({ id: this.id, host, pid: this.pid, now: this.now(), queues });
    this.emit({ type: "started", workerId: this.id, pid: this.pid, concurrency, queues });
    const services = [this.renewal, ...this.maintenance()];
    const reaper = new Reaper();
    this.reaper = reaper;
    for (const service of services) service.start();
    try {
      await this.claimLoop();
      // Slots that end while others are awaited are gone from the map; new ones cannot start.
      while (this.slots.size > 0) await Promise.all(this.slots.all().map((slot) => slot.finished));
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      reaper.close();
      await store.workerRemove({ id: this.id }).catch(() => {});
      this.emit({ type: "stopped", workerId: this.id });
    }
    if (this.fatal) throw this.fatal;
  }

  /** Rescue, schedules, retention, progress and webhook deliveries, each on its own timer. */
  private maintenance(): PeriodicService[] {
    return maintenanceServices({
      store: this.options.store,
      home: this.options.home,
      workerId: this.id,
      now: this.now,
      config: () => this.config,
      slots: this.slots,
      emit: (event) => this.emit(event),
      failed: (service, error) => this.serviceFailed(service, error),
      stopping: () => this.stopping,
      queued: () => this.poke(),
    });
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
  requestStop(reason: "signal" | "requested" | "drained" = "signal", drained?: DrainCheck): void {
    if (this.stopping) return;
    this.stopping = true;
    this.slots.handBackUnstarted();
    const { waitingInPaused, pausedQueues } = drained ?? {};
    this.emit({ type: "stopping", reason, running: this.slots.running(), waitingInPaused, pausedQueues });
    this.poke();
  }

  /** Stop running jobs now and hand them back to pending, attempt not counted. */
  escalate(): void {
    this.requestStop();
    if (this.escalated) return;
    this.escalated = true;
    this.emit({ type: "escalating", running: this.slots.running() });
    this.slots.releaseAll();
  }

  /** Renew now instead of at the next heartbeat: a `kill` on this host signals the worker. */
  checkNow(): void {
    this.renewal.poke();
  }

  /**
   * Each round is one transaction: it completes the runs that ended well since the last one
   * (they queue up meanwhile, so a busy worker commits several at once) and claims as many
   * jobs as slots are free. A round trip or commit per job was most of a short job's cost.
   */
  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.wake.signal.aborted) this.wake = new AbortController();
      // While jobs claimed ahead keep every slot busy, finished runs wait to share a commit.
      await this.completions.linger(() => (this.stopping ? 0 : this.gate.waiting));
      const batch = this.completions.takeAll();
      try {
        await this.lostClaims.settle();
        // Exited runs' slots are free already; once stopping (maybe during the linger), only complete.
        const runMs = batch.map(({ slot, endedAt }) => endedAt - slot.startedAt);
        const ahead = claimsAhead(runMs, this.options.concurrency, this.prefetch, this.gate.holdMs);
        const free = this.stopping ? 0 : this.options.concurrency + ahead - (this.slots.size - batch.length);
        if (batch.length === 0 && free <= 0) {
          await sleep(this.config.pollIntervalMs, this.wake.signal);
        } else {
          // Read before a claim that may come back empty, so a commit before the wait wakes us.
          const since = batch.length === 0 ? await this.options.store.changeMarker() : null;
          if ((await this.completeAndClaim(batch, free)) === 0 && since !== null) await this.idle(since);
        }
      } catch (error) {
        this.completeAlone(batch, error as Error);
        this.lostClaims.suspect();
        if (error instanceof StoreGoneError) {
          this.giveUp(error);
          break;
        }
        // A locked or unreachable store is usually brief; the loop carries on after a pause.
        this.emit({ type: "error", message: `store: ${(error as Error).message}` });
        await sleep(this.config.pollIntervalMs, this.wake.signal);
      }
    }
    // Stopping: what still waits is recorded one by one, as any run ending from now on is.
    this.completeAlone(this.completions.takeAll(), null);
    await this.lostClaims.settle().catch(() => {});
  }

  /** One round of the claim loop; returns how many jobs it claimed and started. */
  private async completeAndClaim(batch: PendingCompletion[], free: number): Promise<number> {
    const { completed, claimed } = await this.options.store.jobCompleteAndClaim({
      completions: batch.map(({ slot, result }) => ({ id: slot.job.id, token: slot.job.token, result })),
      claim:
        free > 0
          ? {
              workerId: this.id,
              host: this.options.host,
              leaseMs: this.config.leaseMs,
              queues: this.options.queues,
              limit: free,
            }
          : null,
      now: this.now(),
    });
    batch.forEach((pending, i) => {
      const outcome: RecordedOutcome = { outcome: completed[i] ? "completed" : "discarded", nextRunAt: null };
      pending.settle(Promise.resolve(outcome));
    });
    for (const job of claimed)
      this.start(
        job,
        await openReports(this.options.store, this.options.home, job, (message) =>
          this.emit({ type: "error", message }),
        ),
      );
    return claimed.length;
  }

  /**
   * Completions whose round failed (`error`), or that the stopping loop will not take: each
   * is recorded alone, with retries while its lease holds. A failed round may have committed
   * although its answer was lost, so a fenced write is then checked against the job's row.
   */
  private completeAlone(batch: PendingCompletion[], error: Error | null): void {
    for (const pending of batch) {
      const { slot, result } = pending;
      if (error === null) {
        pending.settle(this.recordAlone(slot, result, this.now(), false));
        continue;
      }
      const waitMs = error instanceof StoreGoneError ? 0 : RECORD_RETRY_FIRST_MS;
      if (waitMs > 0) this.emit({ type: "record-retry", jobId: slot.job.id, error: error.message, waitMs });
      pending.settle(Bun.sleep(waitMs).then(() => this.recordAlone(slot, result, this.now(), true)));
    }
  }

  /** Nothing to claim: exit when draining an empty queue, else wait for a commit or a local event. */
  private async idle(since: string): Promise<void> {
    // An idle worker fires due schedules itself, so an occurrence starts within one poll; a
    // draining worker too, before it decides the queue is empty.
    const ticked = await tickAndReport(this.options.store, this.now(), (event) => this.emit(event));
    if (ticked.enqueued.length > 0) return;
    if (this.options.drain && this.slots.size === 0) {
      const drained = await drainCheck(this.options.store, this.options.queues);
      if (drained.done) return this.requestStop("drained", drained);
    }
    // A delayed job or a retry's backoff falls due without a commit to wake us: sleep until then.
    const now = this.now();
    const dueAt = await this.options.store.jobNextDueAt({ queues: this.options.queues, after: now });
    const untilDue = dueAt === null ? Number.POSITIVE_INFINITY : Math.max(1, dueAt - now);
    const timeoutMs = Math.min(this.config.pollIntervalMs, untilDue);
    await this.options.store.waitForChange({ timeoutMs, signal: this.wake.signal, since });
  }

  private start(job: Job, reports: JobReports | null): void {
    const timeoutMs = job.spec.timeout !== undefined ? job.spec.timeout * 1000 : this.config.jobTimeoutMs;
    const limits = resolveLimits(job.spec.limits, this.queueLimits[job.queue], this.config.limits);
    const limitsNote = new LimitsNote(this.options.store, job, (message) =>
      this.emit({ type: "error", message }),
    );
    // Made now, while the job waits for a slot: when one frees, only the spawn is left to do.
    const prepared = prepareRun({
      jobId: job.id,
      spec: job.spec,
      attempt: job.attempts,
      token: job.token,
      home: this.options.home,
      timeoutMs,
      baseEnv: this.baseEnv,
      source: job.source,
      workerId: this.id,
      reportEnv: reports?.env,
      reaper: this.reaper as Reaper,
      limits,
      onLimits: (note) => limitsNote.record(note),
      killGraceMs: this.options.killGraceMs,
    });
    const run = (onExit: () => void) => {
      slot.startedAt = this.now();
      const running = startRun(prepared, onExit);
      // Announced after the handle is kept: a listener that throws cannot orphan the run.
      queueMicrotask(() => this.emit(jobStarted(job, running.pid)));
      return running;
    };
    const previous = this.slots.runs(job.id) ? this.slots.supersede(job) : null;
    const handle = runQueued(this.gate, previous, run, () => this.slots.handBack(slot));
    const slot = claimedSlot(job, handle, reports, this.now());
    slot.finished = handle.done
      .then(async (result) => {
        await limitsNote.written;
        return this.finish(slot, result);
      })
      .catch((error) => this.emit({ type: "error", message: `job ${job.id}: ${(error as Error).message}` }))
      .finally(() => {
        this.slots.remove(slot);
        this.poke();
      });
    this.slots.add(slot);
    // Claimed by a round that a stop request overtook: it never starts.
    if (this.stopping) this.slots.handBack(slot);
  }

  private async finish(slot: Slot, ran: Awaited<RunningJob["done"]>): Promise<void> {
    slot.ended = true;
    const result = await finishReports(slot, this.options.store, ran, this.now());
    const now = this.now();
    // A run that ended well is completed by the claim loop's next round, with any others.
    const written =
      slot.releaseReason === null && succeeded(result) && !this.stopping
        ? await this.completions.add(slot, result, now)
        : await this.recordAlone(slot, result, now, false);
    // Fenced out: by another worker's claim, or because the job was canceled while it ran?
    const recorded = await explainDiscarded(this.options.store, slot.job, written);
    // A job handed back before it started was never announced.
    if (!slot.handle.started) return;
    this.emit(jobFinished(slot.job, recorded, now - slot.startedAt, result.error));
  }

  /** Records one attempt's end in a transaction of its own, retried while the lease holds. */
  private recordAlone(slot: Slot, result: RunResult, now: number, failedBefore: boolean) {
    const attempt = {
      job: slot.job,
      result,
      config: this.config,
      now,
      releaseReason: slot.releaseReason,
      kill: slot.kill,
      started: slot.handle.started,
      stopped: slot.handle.stopped,
    };
    return recordAttemptOrAbandon(this.options.store, attempt, {
      holdsLease: () => this.slots.holdsLease(slot),
      fatal: (error) => error instanceof StoreGoneError || this.fatal !== null,
      onRetry: (error, waitMs) =>
        this.emit({ type: "record-retry", jobId: slot.job.id, error: error.message, waitMs }),
      onAbandon: (message) => {
        this.lostClaims.abandoned(slot.job.id, slot.job.token);
        this.emit({ type: "error", message });
      },
      failedBefore,
    });
  }

  /** What one heartbeat brought; the renewal service then stops whatever lost its lease. */
  private async applyBeat(beat: Beat): Promise<void> {
    if (beat.stopRequested) this.requestStop("requested");
    // Any key, whether or not the summary names it: both come from resolveConfig, in one key order.
    if (JSON.stringify(beat.config) !== JSON.stringify(this.config)) {
      this.config = beat.config;
      this.emit({ type: "config-changed", summary: describeConfig(beat.config) });
    }
    this.slots.applyBeat(beat);
    // After the renewal, and kept as they were when the read fails: limits must not cost a lease.
    this.queueLimits = await this.options.store.queueLimitsList().catch(() => this.queueLimits);
  }

  private poke(): void {
    // A reason of our own: the default builds a DOMException, a tenth of a millisecond a job.
    if (!this.wake.signal.aborted) this.wake.abort("wake");
  }

  private emit(event: WorkerEvent): void {
    this.options.onEvent(event);
  }
}
