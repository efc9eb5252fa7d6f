/**
 * Fires due schedules. Every worker runs this service; scheduleFire's compare-and-set lets
 * only one of them enqueue each occurrence. An idle worker also ticks before it waits, so
 * an occurrence starts within one poll.
 */

import { heartbeatIntervalMs, type QueueConfig } from "../core/config.ts";
import { parseOccurrenceId } from "../core/occurrence-id.ts";
import { type TickResult, tickSchedules } from "../flow/tick.ts";
import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { PeriodicService } from "./service.ts";

/**
 * tickSchedules, reporting each owed occurrence skipped because a job already holds its id
 * (one made before its schedule existed): the ticker never writes over a job, and the
 * occurrence must not vanish without a word. Only such a job can be found under a skipped
 * id; one skipped for overlap is never written.
 */
export async function tickAndReport(
  store: Store,
  now: number,
  emit: (event: WorkerEvent) => void,
): Promise<TickResult> {
  const result = await tickSchedules(store, now);
  for (const id of result.skipped) {
    if (!(await store.jobGet({ id }))) continue;
    emit({ type: "occurrence-exists", jobId: id, scheduleId: parseOccurrenceId(id)?.scheduleId ?? id });
  }
  return result;
}

export function scheduleTicker(params: {
  store: Store;
  now: () => number;
  config: () => QueueConfig;
  emit: (event: WorkerEvent) => void;
  /**
   * A stopping worker fires nothing: an occurrence it queued would wait for another worker
   * anyway, and with `overlap: replace` it would cancel the run the worker is waiting on.
   */
  stopping: () => boolean;
  /** Occurrences were queued: the worker's idle claim loop is woken for them. */
  queued: () => void;
  onError: (error: unknown) => void;
}): PeriodicService {
  return new PeriodicService({
    intervalMs: () => heartbeatIntervalMs(params.config()),
    onError: params.onError,
    async tick() {
      if (params.stopping()) return;
      const ticked = await tickAndReport(params.store, params.now(), params.emit);
      if (ticked.enqueued.length > 0) params.queued();
    },
  });
}
