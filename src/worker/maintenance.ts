/**
 * The services a worker runs beside its claim loop, each on a timer of its own so none
 * stands in the lease renewal's way: the watch over leases a hung renewal leaves unrenewed,
 * rescue of expired leases, schedule ticks, retention, the running jobs' progress, and
 * webhook deliveries. The worker composes them; each gets
 * the worker's own store, home and clock, never a process-wide one.
 */

import type { QueueConfig } from "../core/config.ts";
import type { Store } from "../store/store.ts";
import type { AttemptBook } from "./attempts.ts";
import type { WorkerEvent } from "./events.ts";
import { progressService } from "./job-reports.ts";
import { leaseWatch } from "./lease-watch.ts";
import { rescueService } from "./rescue.ts";
import { retentionService } from "./retention.ts";
import { scheduleTicker } from "./schedule-ticker.ts";
import type { PeriodicService } from "./service.ts";
import { webhookDeliveryService } from "./webhook-deliveries.ts";

export interface MaintenanceParams {
  store: Store;
  /** QUEUECTL_HOME: where retention's archive and logs are. */
  home: string;
  workerId: string;
  /** The worker's clock (the store's, see store-clock.ts). */
  now: () => number;
  /** The config as the last heartbeat read it. */
  config: () => QueueConfig;
  /** The worker's running attempts: rescue leaves its own alone, progress reads theirs. */
  slots: AttemptBook;
  emit: (event: WorkerEvent) => void;
  /** A service's tick threw; the worker reports it, or gives up when the store is gone. */
  failed: (service: string, error: unknown) => void;
  /** The worker is stopping: it starts nothing new, schedules' occurrences included. */
  stopping: () => boolean;
  /**
   * A service queued work through the worker's own store: an occurrence, a rescued job. An
   * idle claim loop waits for other processes' commits and its own events, so it is told, or
   * the job waited for the next poll (up to `poll-interval`, an hour at most).
   */
  queued: () => void;
}

export function maintenanceServices(params: MaintenanceParams): PeriodicService[] {
  const { store, home, slots, emit, failed } = params;
  const shared = { store, now: params.now, config: params.config };
  return [
    leaseWatch({ store, slots, config: params.config, onError: (error) => failed("lease watch", error) }),
    rescueService({
      ...shared,
      ownTokens: () => slots.ownTokens(),
      onRescued: (rescue) => {
        emit({
          type: "rescued",
          jobId: rescue.job.id,
          fromWorker: rescue.job.worker_id,
          outcome: rescue.outcome,
          because: rescue.because,
        });
        params.queued();
      },
      onError: (error) => failed("rescue", error),
    }),
    scheduleTicker({
      ...shared,
      emit,
      stopping: params.stopping,
      queued: params.queued,
      onError: (error) => failed("schedules", error),
    }),
    retentionService({ ...shared, home, onError: (error) => failed("retention", error) }),
    progressService({
      store,
      // Started runs only: one claimed ahead has written nothing yet, and handed back
      // unstarted its job keeps the last value it had.
      running: () =>
        slots
          .all()
          .filter((slot) => slot.handle.started)
          .map((slot) => slot.reports),
      onError: (error) => failed("progress", error),
    }),
    webhookDeliveryService({
      ...shared,
      workerId: params.workerId,
      onError: (error) => failed("webhooks", error),
    }),
  ];
}
