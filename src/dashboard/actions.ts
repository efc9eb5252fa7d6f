/**
 * The dashboard's state moves: the same three the CLI offers (`dlq retry`, `cancel`,
 * `rerun`), with the same allowed source states and the same `--json` answers.
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
