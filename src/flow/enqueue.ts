/**
 * Enqueueing prepared specs: plain jobs go in one transaction, specs with a `schedule`
 * become schedules whose occurrences are enqueued by the ticker, and dependency cycles
 * within the batch are refused before anything is written.
 */

import { assertNoCycle } from "../core/dependencies.ts";
import { UserError } from "../core/errors.ts";
import type { PreparedJob } from "../core/job-input.ts";
import { claimantIds, firstScheduleClaim, scheduleClaim, scheduleClaimError } from "../core/occurrence-id.ts";
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
  // The store refuses ids its schedules claim; those of schedules in this input are refused here.
  const inputSchedules = new Set(scheduled.map((job) => job.spec.id));
  const claimed = firstScheduleClaim(
    plain.map((job) => job.spec.id),
    (id) => inputSchedules.has(id),
  );
  if (claimed) throw scheduleClaimError(claimed.id, claimed.claim);
  await assertSchedulesNew(store, scheduled);
  if (plain.length > 0) {
    await store.jobInsertMany({ jobs: plain.map((job) => ({ ...job, source: null })), now, onProgress });
  }
  await storeSchedules(store, scheduled, now);
  return { jobs: plain.map((job) => job.spec.id), schedules: scheduled.map((job) => job.spec.id) };
}

/**
 * A schedule's id may name neither a schedule nor a job the store has, nor be an occurrence
 * id of a schedule the store or this input has.
 */
export async function assertSchedulesNew(store: Store, scheduled: PreparedJob[]): Promise<void> {
  const inInput = new Set(scheduled.map((job) => job.spec.id));
  const stored = new Set<string>();
  for (const id of new Set(claimantIds(scheduled.map((job) => job.spec.id)))) {
    if (await store.scheduleGet({ id })) stored.add(id);
  }
  for (const job of scheduled) {
    const { id } = job.spec;
    if (stored.has(id) || (await store.jobGet({ id }))) {
      throw new UserError(`job id "${id}" already exists`, "choose another id; nothing was enqueued");
    }
    const claim = scheduleClaim(id, (other) => other !== id && (stored.has(other) || inInput.has(other)));
    if (claim) throw scheduleClaimError(id, claim);
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
