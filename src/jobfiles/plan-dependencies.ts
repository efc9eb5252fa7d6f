/**
 * Dependencies between jobfile jobs (`after`). Every id named must be declared by a valid
 * jobfile of the folder or already be in the queue, and jobs must not wait for each other
 * in a cycle, or they would wait forever; nor can they wait on a schedule. A file with such
 * a problem is held back whole, which can leave another file's dependency undeclared, so the
 * check repeats until stable.
 */

import type { DependencyEdge } from "../core/dependencies.ts";
import { findCycle } from "../core/dependency-cycles.ts";
import type { DesiredJob } from "./desired.ts";
import { isScheduled } from "./plan-schedules.ts";
import type { JobfileProblem } from "./problem.ts";

/**
 * Files whose jobs wait on a schedule: a schedule is no job but makes one per occurrence,
 * so nothing could ever end such a wait. `schedules` holds the ids of the schedules the
 * folder declares and the store keeps; an id also declared as a job of the folder, or held
 * by the queue, is that job. Such a file is in error before the plan, like a file that
 * does not parse, so the message can say what the id is instead of "no jobfile declares it".
 */
export function scheduleWaitConflicts(
  jobs: readonly DesiredJob[],
  schedules: ReadonlySet<string>,
  existing: ReadonlySet<string>,
): Map<string, JobfileProblem[]> {
  const conflicts = new Map<string, JobfileProblem[]>();
  const waiting = jobs.filter((job) => (job.spec.after ?? []).length > 0);
  if (waiting.length === 0 || schedules.size === 0) return conflicts;
  const plainJobs = new Set(jobs.filter((job) => !isScheduled(job)).map((job) => job.spec.id));
  for (const job of waiting) {
    const named = (job.spec.after ?? []).filter(
      (id) => schedules.has(id) && !plainJobs.has(id) && !existing.has(id),
    );
    if (named.length === 0) continue;
    const quoted = named.map((id) => `"${id}"`).join(", ");
    const several = named.length > 1;
    const place = job.fields?.after ?? job;
    const problem: JobfileProblem = {
      file: job.file,
      line: place.line,
      column: place.column,
      field: "after",
      message: `\`after\` names ${quoted}, which ${several ? "are schedules" : "is a schedule"}, and a job cannot wait on a schedule`,
      hint: `take ${several ? "them" : "it"} out of \`after\` to wait on nothing, or make ${quoted} a plain job (without \`schedule\`) to wait for its one run`,
    };
    conflicts.set(job.file, [...(conflicts.get(job.file) ?? []), problem]);
  }
  return conflicts;
}

/**
 * The waits a cycle could run through once this folder's declarations are applied: each
 * valid waiting job's new `after` list, and the stored edges of other jobs that still wait
 * (queued by hand or by another folder; a job that can already start waits for nothing), or
 * will wait again: a job canceled because a dependency ended is re-armed when that
 * dependency is queued again, as this very sync may do.
 */
function waitsAfterApply(
  validWaiting: readonly DesiredJob[],
  declared: ReadonlySet<string>,
  dependents: readonly DependencyEdge[],
): Map<string, string[]> {
  const waits = new Map(validWaiting.map((job) => [job.spec.id, [...(job.spec.after ?? [])]]));
  for (const edge of dependents) {
    const waiting = edge.blocked && (edge.state === "pending" || edge.state === "failed");
    if (declared.has(edge.id) || !(waiting || edge.state === "canceled")) continue;
    waits.set(edge.id, [...(waits.get(edge.id) ?? []), edge.dependsOn]);
  }
  return waits;
}

/**
 * Problems by file; `existing` holds the ids the queue already has, and `dependents` the
 * stored edges downstream of the folder's waiting jobs.
 */
export function dependencyConflicts(
  jobs: readonly DesiredJob[],
  existing: ReadonlySet<string>,
  dependents: readonly DependencyEdge[] = [],
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
    const cycle = findCycle(waitsAfterApply(validWaiting, declared, dependents));
    if (!cycle) return conflicts;
    const members = new Set(cycle);
    const outside = cycle.filter((id) => !declared.has(id));
    const through =
      outside.length === 0
        ? ""
        : ` (${[...new Set(outside)].map((id) => `"${id}"`).join(", ")} not from this folder)`;
    let found = false;
    for (const job of validWaiting) {
      if (members.has(job.spec.id)) {
        found = true;
        add(
          job,
          `the dependencies form a cycle: ${cycle.join(" → ")}${through}`,
          "remove one `after` entry of the cycle",
        );
      }
    }
    // A cycle among stored jobs alone is none of this folder's doing, and holding back no
    // file would find it again forever.
    if (!found) return conflicts;
  }
}
