/**
 * The dashboard's state moves: the same ones the CLI offers (`dlq retry`, `cancel`,
 * `rerun`, `kill`, `queue pause|resume`), with the same allowed source states and the same
 * `--json` answers.
 * Each move is one guarded store transition, so a click that races a worker changes
 * nothing and says why (409) instead of clobbering a newer state.
 */

import {
  moveJob as applyMove,
  JOB_MOVES,
  type JobMoveName,
  refusalMessage,
  retryAllDead as retryAll,
} from "../core/moves.ts";
import type { Store } from "../store/store.ts";
import { json, problem } from "./responses.ts";

/** The dashboard answers each move with the same JSON as the CLI's `--json`. */
const ANSWERS: Record<JobMoveName, (id: string) => unknown> = {
  retry: (id) => ({ retried: [id] }),
  cancel: (id) => ({ canceled: id }),
  rerun: (id) => ({ rerun: id }),
};

export type MoveName = JobMoveName;

export function isMoveName(name: string): name is MoveName {
  return Object.hasOwn(JOB_MOVES, name);
}

export async function moveJob(store: Store, id: string, name: MoveName, now: number): Promise<Response> {
  const outcome = await applyMove(store, id, name, now);
  if (outcome.moved) return json(ANSWERS[name](id));
  if (!outcome.current)
    return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
  return problem(409, refusalMessage(id, name, outcome.current.state), JOB_MOVES[name].refusal);
}

/** `dlq retry --all`: every dead job back to pending with its attempts reset. */
export async function retryAllDead(store: Store, now: number): Promise<Response> {
  const moved = await retryAll(store, now);
  return json({ retried: moved.map((job) => job.id) });
}

/**
 * `kill`: stops a running job (SIGTERM, then SIGKILL after the grace) and ends it canceled.
 * Every kill the dashboard makes goes through this one function, so wiring it to the
 * core's kill is a change here alone; until the core has one, the answer is 501 and the
 * page says so, rather than pretending the job stopped.
 */
export async function killJob(store: Store, id: string, _now: number): Promise<Response> {
  const job = await store.jobGet({ id });
  if (!job) return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
  return problem(
    501,
    "kill is not available in this version of queuectl",
    "stop the job's worker with `queuectl worker stop`, or let the job end",
  );
}

/**
 * `queue pause|resume <name>` for a queue the store already knows (it has jobs or
 * settings): a click never creates a queue, and an unknown name is a 404.
 */
export async function setQueuePaused(store: Store, name: string, paused: boolean): Promise<Response> {
  const known = (await store.queueList()).some((queue) => queue.name === name);
  if (!known) return problem(404, `no queue named "${name}"`, "see GET /api/queues for the queues");
  await store.queueSet({ name, paused });
  return json({ queue: name, paused });
}
