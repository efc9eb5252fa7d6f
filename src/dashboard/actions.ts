/**
 * The dashboard's state moves: the same three the CLI offers (`dlq retry`, `cancel`,
 * `rerun`), with the same allowed source states and the same `--json` answers.
 * Each move is one guarded store transition, so a click that races a worker changes
 * nothing and says why (409) instead of clobbering a newer state.
 */

import type { JobState } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { json, problem } from "./responses.ts";

interface Move {
  from: readonly JobState[];
  to: "pending" | "canceled";
  resetAttempts: boolean;
  reason?: string;
  /** Why the move does not apply to a job in another state. */
  refusal: string;
  answer: (id: string) => unknown;
}

export const MOVES = {
  retry: {
    from: ["dead"],
    to: "pending",
    resetAttempts: true,
    refusal: "only jobs in the DLQ (dead) can be retried",
    answer: (id) => ({ retried: [id] }),
  },
  cancel: {
    from: ["pending", "failed"],
    to: "canceled",
    resetAttempts: false,
    reason: "canceled by the user",
    refusal: "only pending or failed jobs can be canceled; a running job finishes on its own",
    answer: (id) => ({ canceled: id }),
  },
  rerun: {
    from: ["completed", "dead", "canceled"],
    to: "pending",
    resetAttempts: true,
    refusal: "only finished jobs (completed, dead or canceled) can be rerun",
    answer: (id) => ({ rerun: id }),
  },
} satisfies Record<string, Move>;

export type MoveName = keyof typeof MOVES;

export function isMoveName(name: string): name is MoveName {
  return Object.hasOwn(MOVES, name);
}

export async function moveJob(store: Store, id: string, name: MoveName, now: number): Promise<Response> {
  const move: Move = MOVES[name];
  const moved = await store.jobTransition({
    id,
    from: move.from,
    to: move.to,
    resetAttempts: move.resetAttempts,
    now,
    reason: move.reason,
  });
  if (moved.length > 0) return json(move.answer(id));
  const current = await store.jobGet({ id });
  if (!current) return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
  return problem(409, `job "${id}" is ${current.state}`, move.refusal);
}

/** `dlq retry --all`: every dead job back to pending with its attempts reset. */
export async function retryAllDead(store: Store, now: number): Promise<Response> {
  const moved = await store.jobTransition({ from: ["dead"], to: "pending", resetAttempts: true, now });
  return json({ retried: moved.map((job) => job.id) });
}
