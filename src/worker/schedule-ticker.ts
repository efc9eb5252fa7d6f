/**
 * Fires due schedules. Every worker runs this service; scheduleFire's compare-and-set lets
 * only one of them enqueue each occurrence. An idle worker also ticks before it waits, so
 * an occurrence starts within one poll.
 */

import { heartbeatIntervalMs, type QueueConfig } from "../core/config.ts";
import { tickSchedules } from "../flow/tick.ts";
import type { Store } from "../store/store.ts";
import { PeriodicService } from "./service.ts";

export function scheduleTicker(params: {
  store: Store;
  now: () => number;
  config: () => QueueConfig;
  onError: (error: unknown) => void;
}): PeriodicService {
  return new PeriodicService({
    intervalMs: () => heartbeatIntervalMs(params.config()),
    onError: params.onError,
    async tick() {
      await tickSchedules(params.store, params.now());
    },
  });
}
