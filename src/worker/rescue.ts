/**
 * Rescue: the jobs of workers that died. A job whose lease ran out lost its worker, which
 * counts as a failed attempt under the normal retry rules. Every worker runs this service
 * on its own timer, checking at least once a second, so a dead worker's job is rescued
 * within its lease, plus one heartbeat interval of confirmation, plus a few seconds.
 */

import { heartbeatIntervalMs, type QueueConfig } from "../core/config.ts";
import type { Job } from "../core/job.ts";
import type { JobFailResult, RunResult, Store } from "../store/store.ts";
import { KILLED_BY_USER, KILLED_BY_USER_RETRY } from "./kill.ts";
import { attemptLogBase } from "./log-files.ts";
import { failOutcome, failureDecision } from "./outcome.ts";
import {
  isProcessAlive,
  pidSpaceTag,
  pidsWithEnvEntries,
  processStartTicks,
  ranInPidSpace,
  signalProcess,
  workerIdPid,
} from "./process-info.ts";
import { PeriodicService } from "./service.ts";

/**
 * How many expired leases one check reads. Each is confirmed from when it is first read, so a
 * dead worker's jobs beyond this wait one more confirmation each time: it is as many as one
 * worker may run (`--concurrency` allows 10,000), so one death is rescued in one round.
 */
const RESCUE_BATCH = 10_000;
/** Slack on top of one heartbeat for a live worker's renewal to land after a clock jump. */
const CONFIRM_MARGIN_MS = 1_000;
/** Upper bound of the time between two checks. */
const MAX_CHECK_MS = 1_000;

/**
 * How long another worker's lease must look expired before it is rescued: one renewal its
 * live holder would have made, plus a margin. Measured on a monotonic clock, so a wall clock
 * jumping forward cannot take jobs from live workers.
 */
export function rescueConfirmMs(config: QueueConfig): number {
  return heartbeatIntervalMs(config) + CONFIRM_MARGIN_MS;
}

export function rescueCheckMs(config: QueueConfig): number {
  return Math.min(MAX_CHECK_MS, heartbeatIntervalMs(config));
}

/** What timers and queries may add on a busy machine, on top of the design's bound. */
const RESCUE_SLACK_MS = 1_000;

/**
 * The longest a dead worker's job waits to be rescued, from its death, as the README
 * states it: the lease (renewed at most one heartbeat before the death), one check to
 * first see it expired, the confirmation, one more check to act, and some slack. That is
 * the lease, plus one heartbeat interval, plus 4 s.
 */
export function rescueWithinMs(config: QueueConfig): number {
  return config.leaseMs + rescueConfirmMs(config) + 2 * rescueCheckMs(config) + RESCUE_SLACK_MS;
}

export interface Rescue {
  job: Job;
  /** As the store wrote it, which the job's jobfile may have changed (see JobFailResult). */
  outcome: "failed" | "dead" | "canceled" | "replaced";
  because: JobFailResult["because"];
}

/**
 * Expired leases a worker has seen, with the monotonic time it first saw each. A wall clock
 * that jumps forward (an NTP step, a VM or laptop resuming) makes every lease look expired
 * at once while their workers are alive and about to renew them. A renewal changes
 * `lease_until`, so a lease seen expired and unchanged for long enough by a clock that does
 * not jump really was abandoned.
 */
export class LeaseSightings {
  private readonly firstSeen = new Map<string, number>();

  constructor(private readonly monotonic: () => number = () => performance.now()) {}

  /** The jobs of `expired` seen expired, unchanged, for at least `confirmMs`; forgets the rest. */
  confirmed(expired: Job[], confirmMs: number): Job[] {
    const now = this.monotonic();
    const current = new Map(expired.map((job) => [`${job.id}\0${job.token}\0${job.lease_until}`, job]));
    for (const key of this.firstSeen.keys()) if (!current.has(key)) this.firstSeen.delete(key);
    const result: Job[] = [];
    for (const [key, job] of current) {
      const since = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, since);
      if (now - since >= confirmMs) result.push(job);
    }
    return result;
  }
}

/**
 * Fails every job whose lease ran out before `now`, except the attempts `ownTokens` says
 * this worker is running itself (it renews those and must not rescue them from itself).
 * Safe when several workers rescue at once: the lease condition makes only one succeed.
 * With `sightings`, a lease must also have looked expired for `confirmMs` of monotonic
 * time (see LeaseSightings); without, it is rescued as soon as it expired.
 */
export async function rescueExpiredLeases(
  store: Store,
  params: {
    now: number;
    config: QueueConfig;
    ownTokens: ReadonlyMap<string, number>;
    sightings?: { tracker: LeaseSightings; confirmMs: number };
    /**
     * The boot and pid namespace this rescuer runs in (pidSpaceTag): it kills what is left
     * of attempts that ran there. Default: this process's; null stands for a rescuer that
     * cannot see the lost worker's processes, as on another host.
     */
    pidSpace?: string | null;
  },
): Promise<Rescue[]> {
  const { now, config, sightings } = params;
  const found = await store.jobExpiredLeases({ now, limit: RESCUE_BATCH });
  const expired = sightings ? sightings.tracker.confirmed(found, sightings.confirmMs) : found;
  const rescued: Rescue[] = [];
  for (const job of expired) {
    if (params.ownTokens.get(job.id) === job.token) continue;
    // A `kill` its worker never acted on still decides how the attempt ends.
    const decision =
      job.kill_requested === "cancel"
        ? { state: "canceled" as const, nextRunAt: now }
        : failureDecision(job, config, now);
    const lapsed = `lease expired: worker ${job.worker_id ?? "?"} stopped renewing it (it crashed or lost the store)`;
    const result: RunResult = {
      exitCode: null,
      signal: null,
      // The mode goes into the text, as the worker writes it: what the attempt counts as
      // (core/attempt-outcome.ts) must not depend on the job row, which later runs change.
      error:
        job.kill_requested === "retry"
          ? `${KILLED_BY_USER_RETRY}; ${lapsed}`
          : job.kill_requested
            ? `${KILLED_BY_USER}; ${lapsed}`
            : lapsed,
      stdoutBytes: 0,
      stderrBytes: 0,
      // Whatever the lost worker captured is still on its host, under the usual name.
      logPath: attemptLogBase(job.id, job.token),
      outputTail: null,
    };
    const written = await store.jobFail({
      id: job.id,
      token: job.token,
      now,
      ...decision,
      result,
      onlyIfLeaseExpiredBefore: now,
    });
    if (written) {
      killLeftovers(job, params.pidSpace === undefined ? pidSpaceTag() : params.pidSpace);
      const { outcome, because } = failOutcome(written);
      rescued.push({ job, outcome, because });
    }
  }
  return rescued;
}

/**
 * Kills what is left of a rescued attempt whose worker died on this host. Its worker's reaper
 * kills the job when the worker dies, but a worker and its reaper killed together (an admin's
 * `kill -9` of both, a container's cgroup OOM) leave the job running, and once rescued it
 * could run twice at once. The attempt's processes carry their worker's id, job id and
 * attempt number in their environment; a worker id names the boot and pid namespace it ran in (process-info.ts),
 * so only a rescuer that can see those processes looks. Called once the rescue is written:
 * a worker that renewed its lease in time keeps its job.
 */
function killLeftovers(job: Job, here: string | null): void {
  if (job.worker_id === null || !ranInPidSpace(job.worker_id, here)) return;
  // A worker that is still there (frozen, starved) stops its own attempt when it wakes, with
  // the grace a job is promised; only a dead one's leftovers are killed here.
  const pid = workerIdPid(job.worker_id);
  if (pid === null) return;
  // The worker id too: job ids and attempt numbers repeat across queues on one host.
  const entries = [
    `QUEUECTL_WORKER_ID=${job.worker_id}`,
    `QUEUECTL_JOB_ID=${job.id}`,
    `QUEUECTL_ATTEMPT=${job.attempts}`,
  ];
  const leftovers = pidsWithEnvEntries(entries);
  if (leftovers.length === 0 || (isProcessAlive(pid) && !startedAfterAny(pid, leftovers))) return;
  for (const pid of leftovers) {
    // The group first: the job leads its own, and its children stay in it unless they left.
    signalProcess(-pid, "SIGKILL");
    signalProcess(pid, "SIGKILL");
  }
}

/**
 * Whether the process at `pid` started after one of `spawned`, which its worker started: then
 * it is not that worker but another process that took its pid once it died. Both times come
 * from this host's /proc, so no clock between hosts enters; without /proc a live pid counts
 * as the worker.
 */
function startedAfterAny(pid: number, spawned: number[]): boolean {
  const startedAt = processStartTicks(pid);
  if (startedAt === null) return false;
  return spawned.some((child) => {
    const childStartedAt = processStartTicks(child);
    return childStartedAt !== null && startedAt > childStartedAt;
  });
}

/** The rescue service of one worker; `ownTokens` are the attempts it runs itself. */
export function rescueService(params: {
  store: Store;
  now: () => number;
  config: () => QueueConfig;
  ownTokens: () => ReadonlyMap<string, number>;
  onRescued: (rescue: Rescue) => void;
  onError: (error: unknown) => void;
  /** The clock confirmations are timed on; it must not jump. Default performance.now. */
  monotonic?: () => number;
}): PeriodicService {
  const tracker = new LeaseSightings(params.monotonic);
  return new PeriodicService({
    intervalMs: () => rescueCheckMs(params.config()),
    onError: params.onError,
    async tick() {
      const config = params.config();
      const rescued = await rescueExpiredLeases(params.store, {
        now: params.now(),
        config,
        ownTokens: params.ownTokens(),
        sightings: { tracker, confirmMs: rescueConfirmMs(config) },
      });
      for (const rescue of rescued) params.onRescued(rescue);
    },
  });
}
