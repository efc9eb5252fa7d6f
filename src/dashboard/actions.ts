/**
 * The dashboard's state moves: the same ones the CLI offers (`dlq retry`, `cancel`,
 * `rerun`, `kill`, `queue pause|resume`), with the same allowed source states and the same
 * `--json` answers.
 * Each move is one guarded store transition, so a click that races a worker changes
 * nothing and says why (409) instead of clobbering a newer state.
 */

import { nearestName } from "../core/errors.ts";
import type { JobState } from "../core/job.ts";
import {
  moveJob as applyMove,
  type JobMoveName,
  killRefusal,
  refusalHint,
  refusalMessage,
  retryAllDead as retryAll,
} from "../flow/moves.ts";
import { knownQueueNames } from "../store/queue-names.ts";
import type { Store } from "../store/store.ts";
import { killJobs } from "../worker/kill.ts";
import { json, problem } from "./responses.ts";

/** The dashboard answers each move with the same JSON as the CLI's `--json`. */
const ANSWERS: Record<JobMoveName, (id: string) => unknown> = {
  retry: (id) => ({ retried: [id] }),
  cancel: (id) => ({ canceled: id }),
  rerun: (id) => ({ rerun: id }),
};

export async function moveJob(store: Store, id: string, name: JobMoveName, now: number): Promise<Response> {
  const outcome = await applyMove(store, id, name, now);
  if (outcome.moved) return json(ANSWERS[name](id));
  if (!outcome.current)
    return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
  return problem(
    409,
    refusalMessage(id, name, outcome.current.state),
    refusalHint(name, outcome.current.state),
  );
}

/** `dlq retry --all`: every dead job back to pending with its attempts reset. */
export async function retryAllDead(store: Store, now: number): Promise<Response> {
  const moved = await retryAll(store, now);
  return json({ retried: moved.map((job) => job.id) });
}

/**
 * `kill`: a job that has not started is canceled; a running one is stopped by its worker
 * (SIGTERM, then SIGKILL after the grace) and ends canceled, or with `retry` (`kill --retry`)
 * counts as a failed attempt so the retry rules apply. With `retry` a job that is not running
 * is refused, as the CLI refuses it. The answer does not wait for the worker: the page
 * follows the job's state as it changes.
 */
export async function killJob(store: Store, id: string, now: number, retry = false): Promise<Response> {
  const job = await store.jobGet({ id });
  if (!job) return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
  const finished = (state: JobState) =>
    problem(
      409,
      `job "${id}" is ${state}: only pending, failed or running jobs can be killed`,
      "rerun it to run a finished job again",
    );
  const refusal = killRefusal(job.state, retry);
  if (refusal === "finished") return finished(job.state);
  if (refusal === "not-running") {
    return problem(
      409,
      `job "${id}" is ${job.state}, not running: retry=true only stops a running attempt`,
      "leave it to wait for its next attempt, or kill it without retry=true to cancel it",
    );
  }
  const [outcome] = await killJobs(store, [id], { now, retry });
  // It ended between the read above and the kill.
  if (!outcome || outcome.kind === "not-running") return finished(outcome?.state ?? job.state);
  if (outcome.kind === "canceled") return json({ killed: id, result: "canceled" });
  return json({
    killed: id,
    result: outcome.orphaned ? "orphaned" : "requested",
    worker_id: outcome.workerId,
  });
}

/**
 * `queue pause|resume <name>` for a queue the store already knows (knownQueueNames, the CLI's
 * rule too): a click never creates a queue, and an unknown name is a 404.
 */
export async function setQueuePaused(store: Store, name: string, paused: boolean): Promise<Response> {
  const known = await knownQueueNames(store);
  if (!known.includes(name)) {
    const nearest = nearestName(name, known);
    return problem(
      404,
      `no queue named "${name}"`,
      `${nearest ? `did you mean "${nearest}"? ` : ""}see GET /api/queues for the queues`,
    );
  }
  await store.queueSet({ name, paused });
  return json({ queue: name, paused });
}
