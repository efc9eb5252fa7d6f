/**
 * Dependencies between jobfile jobs (`after`). Every id named must be declared by a valid
 * jobfile of the folder or already be in the queue, and jobs must not wait for each other
 * in a cycle, or they would wait forever. A file with such a problem is held back whole,
 * which can leave another file's dependency undeclared, so the check repeats until stable.
 */

import { findCycle } from "../core/dependencies.ts";
import type { DesiredJob } from "./desired.ts";
import type { JobfileProblem } from "./problem.ts";

/** Problems by file; `existing` holds the ids the queue already has. */
export function dependencyConflicts(
  jobs: readonly DesiredJob[],
  existing: ReadonlySet<string>,
): Map<string, JobfileProblem[]> {
  const conflicts = new Map<string, JobfileProblem[]>();
  const add = (job: DesiredJob, message: string, hint: string) => {
    const place = job.fields?.after ?? job;
    const problem = { file: job.file, line: place.line, column: place.column, field: "after", message, hint };
    conflicts.set(job.file, [...(conflicts.get(job.file) ?? []), problem]);
  };
  // Only a job that waits can name an unknown id or close a cycle; most folders have none.
  const waiting = jobs.filter((job) => (job.spec.after ?? []).length > 0);
  if (waiting.length === 0) return conflicts;
  for (;;) {
    const valid = jobs.filter((job) => !conflicts.has(job.file));
    const declared = new Set(valid.map((job) => job.spec.id));
    const validWaiting = waiting.filter((job) => !conflicts.has(job.file));
    let heldBack = false;
    for (const job of validWaiting) {
      const unknown = (job.spec.after ?? []).filter((id) => !declared.has(id) && !existing.has(id));
      if (unknown.length === 0) continue;
      add(
        job,
        `\`after\` names ${unknown.map((id) => `"${id}"`).join(", ")}, which no valid jobfile declares and the queue does not hold`,
        "declare that job in the folder, or fix the id",
      );
      heldBack = true;
    }
    if (heldBack) continue;
    // A cycle's every member waits for the next, so the jobs that wait hold all cycles.
    const cycle = findCycle(new Map(validWaiting.map((job) => [job.spec.id, job.spec.after ?? []])));
    if (!cycle) return conflicts;
    const members = new Set(cycle);
    for (const job of validWaiting) {
      if (members.has(job.spec.id)) {
        add(
          job,
          `the dependencies form a cycle: ${cycle.join(" → ")}`,
          "remove one `after` entry of the cycle",
        );
      }
    }
  }
}
