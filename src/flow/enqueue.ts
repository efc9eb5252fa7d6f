/**
 * Enqueueing prepared specs: plain jobs go in one transaction, specs with a `schedule`
 * become schedules whose occurrences are enqueued by the ticker, and dependency cycles
 * within the batch are refused before anything is written.
 */

import { assertNoCycle } from "../core/dependencies.ts";
import { UserError } from "../core/errors.ts";
import type { PreparedJob } from "../core/job-input.ts";
import { nextOccurrence } from "../core/schedule.ts";
import type { Store } from "../store/store.ts";

export interface EnqueueResult {
  jobs: string[];
  schedules: string[];
}

export async function enqueuePrepared(
  store: Store,
  prepared: PreparedJob[],
  now: number,
  onProgress?: (done: number) => void,
): Promise<EnqueueResult> {
  const plain = prepared.filter((job) => job.spec.schedule === undefined);
  const scheduled = prepared.filter((job) => job.spec.schedule !== undefined);
  assertNoCycle(new Map(plain.map((job) => [job.spec.id, job.spec.after ?? []])));
  await assertSchedulesNew(store, scheduled);
  if (plain.length > 0) {
    await store.jobInsertMany({ jobs: plain.map((job) => ({ ...job, source: null })), now, onProgress });
  }
  await storeSchedules(store, scheduled, now);
  return { jobs: plain.map((job) => job.spec.id), schedules: scheduled.map((job) => job.spec.id) };
}

/** A schedule's id may name neither a schedule nor a job the store has. */
export async function assertSchedulesNew(store: Store, scheduled: PreparedJob[]): Promise<void> {
  for (const job of scheduled) {
    if ((await store.scheduleGet({ id: job.spec.id })) || (await store.jobGet({ id: job.spec.id }))) {
      throw new UserError(
        `job id "${job.spec.id}" already exists`,
        "choose another id; nothing was enqueued",
      );
    }
  }
}

export async function storeSchedules(store: Store, scheduled: PreparedJob[], now: number): Promise<void> {
  for (const job of scheduled) {
    await store.scheduleUpsert({
      id: job.spec.id,
      spec: job.spec,
      revision: job.revision,
      source: null,
      nextAt: nextOccurrence(job.spec, now),
      now,
    });
  }
}
