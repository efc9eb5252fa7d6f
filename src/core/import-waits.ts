/**
 * What an import may say about dependencies (`after`). In a whole export, a job that still
 * waits names only jobs of the same export: a dependency that ended badly cancels its
 * dependents, and purging removes only finished jobs, so a waiting job's dependency can be
 * missing only if it was purged after it completed. A file cut short or edited by hand
 * loses dependencies the same way, and a job would then run before the work it waits for,
 * silently. So an import is refused when a job that has not run yet waits for an id that
 * neither the file nor the queue holds, or when such jobs wait for each other in a cycle.
 * Both backends ask this one rule, inside the import's transaction.
 */

import { findCycle } from "./dependencies.ts";
import { UserError } from "./errors.ts";
import type { JobState } from "./job.ts";

/** States of a job that has not run to its end and still waits for its dependencies. */
const WAITING_STATES: readonly JobState[] = ["pending", "failed", "processing"];

/** Whether an imported job in `state` still waits for what it names in `after`. */
export function waitsOnImport(state: JobState, after: readonly string[] | undefined): boolean {
  return (after?.length ?? 0) > 0 && WAITING_STATES.includes(state);
}

/**
 * The refusal for imported jobs that wait (`waiting`: id → its `after`), given the ids the
 * queue does not hold once every row is in (`missing`); null when they may wait as they are.
 */
export function importWaitRefusal(
  waiting: ReadonlyMap<string, readonly string[]>,
  missing: ReadonlySet<string>,
): UserError | null {
  for (const [id, after] of waiting) {
    const gone = after.find((dependency) => missing.has(dependency));
    if (gone === undefined) continue;
    return new UserError(
      `job "${id}" waits for "${gone}", which is neither in the file nor in the queue`,
      `the file may be cut short or edited: import the whole export; if "${gone}" was purged after it completed, take it out of "${id}"'s after list; nothing was imported`,
    );
  }
  const cycle = findCycle(waiting);
  if (cycle === null) return null;
  return new UserError(
    `the dependencies form a cycle: ${cycle.join(" → ")}`,
    "fix the after lists in the file; nothing was imported",
  );
}
