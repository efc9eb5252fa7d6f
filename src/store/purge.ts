/** What retention may delete, decided once for both backends. */

import type { JobState } from "../core/job.ts";

/**
 * A finished job that an unfinished one waits on (`after`) stays until that one has finished:
 * the waiting job gets its result when it starts, and again at each retry. Plain SQL both
 * backends read alike, for a row aliased `jobs`.
 */
export const AWAITED_BY_UNFINISHED_SQL = `EXISTS (
  SELECT 1 FROM job_deps awaited JOIN jobs waiting ON waiting.id = awaited.job_id
  WHERE awaited.depends_on = jobs.id AND waiting.state IN ('pending', 'failed', 'processing'))`;

/** Of `states`, those a purge may touch: finished ones only, never pending or running jobs. */
export function purgeableStates(states: JobState[]): JobState[] {
  return states.filter((state) => state === "completed" || state === "dead" || state === "canceled");
}
