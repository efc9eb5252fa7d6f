/**
 * What an import says about dependencies (`after`). A job that has yet to run and waits for
 * an id neither the file nor the queue holds counts that dependency as done, as it always
 * did: purging deletes a completed job while jobs that waited on it stay, so a whole export
 * can name ids it does not hold. But a file cut short or edited by hand loses dependencies
 * the same way, and the job would then run before the work it waits for, so each such
 * job is named in a warning. Jobs that wait for each other in a cycle would never run: that
 * is refused. Both backends ask this one rule, inside the import's transaction.
 */

import { cycleText, findCycle } from "./dependency-cycles.ts";
import { UserError } from "./errors.ts";
import type { JobState } from "./job.ts";

/** States of a job that has not run to its end and still waits for its dependencies. */
const WAITING_STATES: readonly JobState[] = ["pending", "failed", "processing"];

/** Whether an imported job in `state` still waits for what it names in `after`. */
export function waitsOnImport(state: JobState, after: readonly string[] | undefined): boolean {
  return (after?.length ?? 0) > 0 && WAITING_STATES.includes(state);
}

/** A waiting job and a dependency of it that neither the file nor the queue holds. */
export interface MissingDependency {
  id: string;
  dependency: string;
}

/**
 * Imported jobs that wait (`waiting`: id → its `after`), given the ids the queue does not
 * hold once every row is in (`missing`): the refusal of a cycle among them, or the
 * dependencies that will count as done.
 */
export function importWaits(
  waiting: ReadonlyMap<string, readonly string[]>,
  missing: ReadonlySet<string>,
): MissingDependency[] {
  const cycle = findCycle(waiting);
  if (cycle !== null) {
    throw new UserError(
      `the dependencies form a cycle: ${cycleText(cycle)}`,
      "fix the after lists in the file; nothing was imported",
    );
  }
  const found: MissingDependency[] = [];
  for (const [id, after] of waiting)
    for (const dependency of after) if (missing.has(dependency)) found.push({ id, dependency });
  return found;
}

/** Jobs named one per line before the rest are counted. */
const SHOWN = 5;

/** The warnings `import` prints for dependencies that count as done. */
export function missingDependencyWarnings(missing: readonly MissingDependency[]): string[] {
  const lines = missing
    .slice(0, SHOWN)
    .map(
      ({ id, dependency }) =>
        `job "${id}" waits for "${dependency}", which is neither in the file nor in the queue: it counts as done (as after a purge); if the file was cut short, import the whole export`,
    );
  const more = missing.length - SHOWN;
  if (more > 0) lines.push(`${more} more ${more === 1 ? "dependency counts" : "dependencies count"} as done`);
  return lines;
}
