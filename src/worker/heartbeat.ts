/**
 * The lease renewal service: one heartbeat of a worker is its registry row (and any stop
 * request from `worker stop --all`), the config as it is now, and the renewal of all of its
 * leases in one statement, which also brings back any `kill` waiting for one of its jobs.
 * Nothing else runs here: rescue, schedules and retention are services of their own
 * (rescue.ts, schedule-ticker.ts, retention.ts), so nothing slow can delay a renewal.
 */

import { heartbeatIntervalMs, type QueueConfig, resolveConfig } from "../core/config.ts";
import { describeLimits } from "../core/resource-limits.ts";
import type { WorkerHeartbeatParams } from "../store/params.ts";
import type { HeldLease, RenewedLease, Store } from "../store/store.ts";
import { readCanceledWhileRunning } from "./lease-loss.ts";
import { PeriodicService } from "./service.ts";
import type { StoreClock } from "./store-clock.ts";

export interface Beat {
  stopRequested: boolean;
  config: QueueConfig;
  renewed: RenewedLease[];
  /** Leases this worker held but could not renew: a newer claim owns those jobs, or they ended. */
  lost: LostLease[];
  /** Monotonic time the renewal succeeded: the lease is this worker's from then on. */
  renewedAt: number;
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
    ...(config.limits ? [`limits ${describeLimits(config.limits)}`] : []),
    `retention ${config.retentionMs === null ? "off" : `${config.retentionMs / 1000}s`}`,
    `retention-archive ${config.retentionArchive ?? "off"}`,
  ].join(", ");
}

export interface LostLease extends HeldLease {
  /** Why the job was canceled in place while it ran (its last_error); null when it was not. */
  canceled: string | null;
}

export function leaseKey(lease: HeldLease): string {
  return `${lease.id}\0${lease.token}`;
}

export async function heartbeat(
  store: Store,
  params: {
    workerId: string;
    now: () => number;
    leases: HeldLease[];
    /** Writes the worker's registry row again if it is gone (see WorkerHeartbeatParams). Default: none. */
    registration?: WorkerHeartbeatParams["registration"];
    /** Default performance.now. */
    monotonic?: () => number;
  },
): Promise<Beat> {
  const { stopRequested } = await store.workerHeartbeat({
    id: params.workerId,
    now: params.now(),
    registration: params.registration,
  });
  const config = resolveConfig(await store.configGetAll());
  const renewed = await store.jobLeaseRenewMany({
    leases: params.leases,
    leaseUntil: params.now() + config.leaseMs,
  });
  // Judged from now, not from when the beat began: a beat that waited on a lock for longer
  // than the lease still renewed the lease for a whole period from here.
  const renewedAt = (params.monotonic ?? performance.now)();
  const held = new Set(renewed.map(leaseKey));
  // Rare, so each is read: a job canceled in place is no lease lost to another worker.
  const lost = await Promise.all(
    params.leases
      .filter((lease) => !held.has(leaseKey(lease)))
      .map(async (lease) => ({ ...lease, canceled: await readCanceledWhileRunning(store, lease) })),
  );
  return { stopRequested, config, renewed, lost, renewedAt };
}

export interface RenewalParams {
  store: Store;
  workerId: string;
  /** What the worker registered with: a row another host removed comes back at the next beat. */
  registration: NonNullable<WorkerHeartbeatParams["registration"]>;
  /** The worker's clock (store-clock.ts), measured against the store's before each beat. */
  clock: StoreClock;
  config: () => QueueConfig;
  /** The leases the worker holds at the moment of the beat. */
  leases: () => HeldLease[];
  /** What the worker makes of a beat: a stop request, a new config, its leases renewed or lost. */
  onBeat: (beat: Beat) => Promise<void>;
  /** After every beat, failed or not: the worker stops the runs whose lease it cannot vouch for. */
  afterBeat: () => void;
  onError: (error: unknown) => void;
}

/** The renewal, once per heartbeat interval of the current config (a third of the lease). */
export function renewalService(params: RenewalParams): PeriodicService {
  return new PeriodicService({
    intervalMs: () => heartbeatIntervalMs(params.config()),
    onError: params.onError,
    async tick() {
      try {
        await params.clock.sync();
        const beat = await heartbeat(params.store, {
          workerId: params.workerId,
          registration: params.registration,
          now: () => params.clock.now(),
          leases: params.leases(),
        });
        await params.onBeat(beat);
      } finally {
        params.afterBeat();
      }
    },
  });
}
