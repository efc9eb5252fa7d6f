/**
 * One heartbeat of a worker, in the order that keeps leases safe: the registry row (and
 * any stop request from `worker stop --all`), the config as it is now, renewal of this
 * worker's own leases, and only then the rescue of other workers' expired ones.
 */

import { type QueueConfig, resolveConfig } from "../core/config.ts";
import { queuectlHome } from "../core/home.ts";
import { tickSchedules } from "../flow/tick.ts";
import type { Store } from "../store/store.ts";
import { type LeaseSightings, type Rescue, rescueExpiredLeases } from "./outcome.ts";
import { purgeFinishedJobs, RETENTION_EVERY_MS } from "./retention.ts";

let lastRetentionRun = 0;

/** Renewals per lease window, so one slow write does not cost a job its lease. */
const RENEWALS_PER_LEASE = 4;
/** Bounds of the heartbeat interval: config changes and stop requests arrive within the upper one. */
const MIN_INTERVAL_MS = 200;
const MAX_INTERVAL_MS = 5_000;

export interface HeldLease {
  id: string;
  token: number;
}

export interface Beat {
  stopRequested: boolean;
  config: QueueConfig;
  /** Leases this worker held but could not renew: a newer claim owns those jobs now. */
  lost: HeldLease[];
  rescued: Rescue[];
}

export function heartbeatIntervalMs(config: QueueConfig): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, config.leaseMs / RENEWALS_PER_LEASE));
}

/** A stable one-line form of the settings a worker uses, to notice and report changes. */
export function describeConfig(config: QueueConfig): string {
  return [
    `poll-interval ${config.pollIntervalMs / 1000}s`,
    `lease ${config.leaseMs / 1000}s`,
    `max-retries ${config.maxRetries}`,
    `backoff-base ${config.backoffBase}`,
    `backoff-max ${config.backoffMaxSeconds}s`,
    `job-timeout ${config.jobTimeoutMs / 1000}s`,
  ].join(", ");
}

/**
 * How long another worker's lease must look expired before it is rescued: two renewals
 * its live holder would have made. Measured on a monotonic clock, so a wall clock jumping
 * forward cannot take jobs from live workers; a dead worker's jobs wait that much longer.
 */
export function rescueConfirmMs(config: QueueConfig): number {
  return 2 * heartbeatIntervalMs(config);
}

export async function heartbeat(
  store: Store,
  params: { workerId: string; now: () => number; leases: HeldLease[]; sightings?: LeaseSightings },
): Promise<Beat> {
  const { stopRequested } = await store.workerHeartbeat({ id: params.workerId, now: params.now() });
  const config = resolveConfig(await store.configGetAll());
  const now = params.now();
  const lost: HeldLease[] = [];
  for (const lease of params.leases) {
    const renewed = await store.jobLeaseExtend({ ...lease, leaseUntil: now + config.leaseMs });
    if (!renewed) lost.push(lease);
  }
  const ownTokens = new Map(params.leases.map((lease) => [lease.id, lease.token]));
  const sightings = params.sightings && { tracker: params.sightings, confirmMs: rescueConfirmMs(config) };
  const rescued = await rescueExpiredLeases(store, { now, config, ownTokens, sightings });
  // Every worker fires due schedules; scheduleFire's compare-and-set lets only one win.
  await tickSchedules(store, now);
  if (config.retentionMs !== null && now - lastRetentionRun >= RETENTION_EVERY_MS) {
    lastRetentionRun = now;
    await purgeFinishedJobs(store, {
      states: ["completed", "dead", "canceled"],
      finishedBefore: now - config.retentionMs,
      dryRun: false,
      home: queuectlHome(),
    });
  }
  return { stopRequested, config, lost, rescued };
}
