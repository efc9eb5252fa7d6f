/**
 * Which index a claim walks, decided alike for both backends. Both give the same jobs in the
 * same order (priority, then due time, then enqueue order); they differ only in what a claim
 * steps over on the way, so slightly stale facts cost time, never a wrong claim.
 *
 * - `jobs_claim (priority DESC, next_run_at, seq)`: one walk in claim order over every
 *   queue. Cheapest when the claim may take any waiting job; but one for some queues, or one
 *   that must pass a paused queue or one at its limit, steps over every waiting job of the
 *   others that comes first, however many.
 * - `jobs_queue_claim (queue, priority DESC, next_run_at, seq)`: each served queue's own
 *   walk, and the best of their heads. It steps over nothing, but costs a seek per queue (and
 *   on PostgreSQL locks up to a round's worth of jobs in each), so it is kept for a few
 *   queues: those a worker names, or every queue with waiting jobs while one is paused or
 *   limited. With thousands of queues a claim would cost milliseconds.
 */

/** Most queues a claim walks one by one; with more, it walks jobs_claim. */
export const MAX_QUEUES_WALKED = 64;

export interface ClaimRouteFacts {
  /** The queues a worker serves by name (`--queue`), or null for every queue. */
  named: readonly string[] | null;
  /** Whether any queue is paused or has a concurrency limit. */
  anyLimited: boolean;
}

/**
 * What a claim walks: `{ queues }` to walk those one by one, `{ present: true }` to walk
 * every queue with waiting jobs one by one (while there are at most MAX_QUEUES_WALKED of
 * them), or null to walk jobs_claim.
 */
export type ClaimRoute = { queues: string[] } | { present: true } | null;

export function claimRoute(facts: ClaimRouteFacts): ClaimRoute {
  if (facts.named !== null) {
    const queues = namedQueuesWalked(facts.named);
    return queues === null ? null : { queues };
  }
  return facts.anyLimited ? { present: true } : null;
}

/**
 * The named queues walked one by one (deduplicated) when there are few enough of them, else
 * null; null too for every queue (`named` null or absent). The part of the rule that needs
 * no reads: a claim over every queue also asks claimRoute, and an idle worker's next due
 * time asks only this.
 */
export function namedQueuesWalked(named: readonly string[] | null | undefined): string[] | null {
  if (named === null || named === undefined) return null;
  const queues = [...new Set(named)];
  return queues.length <= MAX_QUEUES_WALKED ? queues : null;
}
