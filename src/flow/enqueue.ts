/**
 * Enqueueing prepared specs: plain jobs go in one transaction, specs with a `schedule`
 * become schedules whose occurrences are enqueued by the ticker, and dependency cycles
 * within the batch are refused before anything is written.
 */

import {
  assertNoCycle,
  type CanceledAtOnce,
  canceledAtOnceCauses,
  type EndedJob,
  MissingDependencyError,
} from "../core/dependencies.ts";
import { DuplicateIdError, UserError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { jobOrigin, type PreparedJob } from "../core/job-input.ts";
import { claimantIds, firstScheduleClaim, scheduleClaim, scheduleClaimError } from "../core/occurrence-id.ts";
import { nextOccurrence } from "../core/schedule.ts";
import type { Store } from "../store/store.ts";

export interface EnqueueResult {
  jobs: string[];
  schedules: string[];
  /** Jobs the store queued canceled, because a dependency had already ended dead or canceled. */
  canceledAtOnce: CanceledAtOnce[];
}

export async function enqueuePrepared(
  store: Store,
  prepared: PreparedJob[],
  now: number,
  onProgress?: (done: number) => void,
): Promise<EnqueueResult> {
  const plain = prepared.filter((job) => job.spec.schedule === undefined);
  const scheduled = prepared.filter((job) => job.spec.schedule !== undefined);
  const waits = new Map(plain.map((job) => [job.spec.id, job.spec.after ?? []]));
  assertNoCycle(waits);
  // The store refuses ids its schedules claim; those of schedules in this input are refused here.
  const inputSchedules = new Set(scheduled.map((job) => job.spec.id));
  const claimed = firstScheduleClaim(
    plain.map((job) => job.spec.id),
    (id) => inputSchedules.has(id),
  );
  if (claimed) throw scheduleClaimError(claimed.id, claimed.claim);
  await assertSchedulesNew(store, scheduled);
  if (plain.length > 0) {
    const jobs = plain.map(({ spec, revision, maxRetries, nextRunAt }) => ({
      spec,
      revision,
      maxRetries,
      nextRunAt,
      source: null,
    }));
    try {
      await store.jobInsertMany({ jobs, now, onProgress });
    } catch (error) {
      if (error instanceof DuplicateIdError) throw placedDuplicate(error, plain);
      if (!(error instanceof MissingDependencyError)) throw error;
      const job = plain.find((candidate) => candidate.spec.id === error.jobId);
      // A schedule of the same input is stored after the jobs, so the store does not know it yet.
      const isSchedule =
        inputSchedules.has(error.dependency) || (await store.scheduleGet({ id: error.dependency })) !== null;
      throw error.wordedFor(job && jobOrigin(job), isSchedule);
    }
  }
  await storeSchedules(store, scheduled, now);
  return {
    jobs: plain.map((job) => job.spec.id),
    schedules: scheduled.map((job) => job.spec.id),
    canceledAtOnce: await findCanceledAtOnce(store, waits),
  };
}

/** An id the store already holds, named where the input gives it, as any other bad item is. */
function placedDuplicate(error: DuplicateIdError, prepared: PreparedJob[]): DuplicateIdError {
  const job = prepared.find((candidate) => candidate.spec.id === error.id);
  if (job === undefined || jobOrigin(job).door !== "input") return error;
  // As prepareJob names a bad item: its place only when the input holds several.
  const at = prepared.length > 1 ? `${job.input}, ${job.where}: ` : `${job.input}: `;
  return new DuplicateIdError(error.id, `${at}${error.message}`, error.hint);
}

/** Past this many dependencies to look up one by one, listing the store's ended jobs may cost less. */
const LOOKUPS_AT_MOST = 1000;

/**
 * The jobs of an input that the store queued canceled, because a dependency outside the input
 * had already ended dead or canceled (README, Dependencies). The store decides that inside its
 * transaction and reports nothing, so the states are read back once the input is in.
 * `waits` maps the input's jobs to their `after` lists; jobs without one may be left out.
 */
export async function findCanceledAtOnce(
  store: Store,
  waits: ReadonlyMap<string, readonly string[]>,
): Promise<CanceledAtOnce[]> {
  const outside = new Set<string>();
  for (const after of waits.values())
    for (const dependency of after) if (!waits.has(dependency)) outside.add(dependency);
  if (outside.size === 0) return [];
  const ended = await endedAmong(store, outside);
  if (ended.size === 0) return [];
  // A dependency canceled because another job ended: that job is the one to run again.
  const roots = new Set(
    [...ended.values()].flatMap((job) => (job.canceledBy === null ? [] : [job.canceledBy])),
  );
  for (const [id, job] of await endedAmong(store, new Set([...roots].filter((root) => !ended.has(root)))))
    ended.set(id, job);
  const edges = await store.jobDependentEdges({ ids: [...ended.keys()] });
  const canceled = new Set(
    edges.filter((edge) => edge.state === "canceled" && waits.has(edge.id)).map((edge) => edge.id),
  );
  return canceledAtOnceCauses([...canceled], waits, ended);
}

/** Which of `ids` are jobs that ended dead or canceled, with what canceled each. */
async function endedAmong(store: Store, ids: ReadonlySet<string>): Promise<Map<string, EndedJob>> {
  const ended = new Map<string, EndedJob>();
  const keep = (id: string, job: Job | null | undefined) => {
    if (job?.state === "dead" || job?.state === "canceled")
      ended.set(id, { state: job.state, canceledBy: job.canceled_by ?? null });
  };
  if (ids.size === 0) return ended;
  if (ids.size > LOOKUPS_AT_MOST) {
    const counts = await store.jobCounts();
    if (counts.dead + counts.canceled < ids.size) {
      const { jobs } = await store.jobPage({ states: ["dead", "canceled"], limit: null });
      for (const job of jobs) if (ids.has(job.id)) keep(job.id, job);
      return ended;
    }
  }
  for (const id of ids) keep(id, await store.jobGet({ id }));
  return ended;
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
    if (stored.has(id)) throw scheduleClaimError(id, { kind: "schedule", scheduleId: id });
    if (await store.jobGet({ id })) {
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
