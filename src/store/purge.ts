/** What retention may delete, decided once for both backends. */

import type { JobState } from "../core/job.ts";

/** Of `states`, those a purge may touch: finished ones only, never pending or running jobs. */
export function purgeableStates(states: JobState[]): JobState[] {
  return states.filter((state) => state === "completed" || state === "dead" || state === "canceled");
}
