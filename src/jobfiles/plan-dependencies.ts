/**
 * Dependencies between jobfile jobs (`after`). Every id named must be declared by a valid
 * jobfile of the folder or already be in the queue, and jobs must not wait for each other
 * in a cycle, or they would wait forever; nor can they wait on a schedule. A file with such
 * a problem is held back whole, which can leave another file's dependency undeclared, so the
 * check repeats until stable.
 */

import { type DependencyEdge, dependencyOrder, dependentState } from "../core/dependencies.ts";
import { cycleText, findCycle } from "../core/dependency-cycles.ts";
import type { JobState } from "../core/job.ts";
import type { JobFacts, JobfileAction } from "../core/reconcile.ts";
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
    // Named a few at most, as the cycle itself is (cycleText): one line stays readable.
    const others = [...new Set(outside)];
    const named = others
      .slice(0, 5)
      .map((id) => `"${id}"`)
      .join(", ");
    const more = others.length > 5 ? ` and ${others.length - 5} more` : "";
    const through = others.length === 0 ? "" : ` (${named}${more} not from this folder)`;
    let found = false;
    for (const job of validWaiting) {
      if (members.has(job.spec.id)) {
        found = true;
        add(
          job,
          `the dependencies form a cycle: ${cycleText(cycle)}${through}`,
          "remove one `after` entry of the cycle",
        );
      }
    }
    // A cycle among stored jobs alone is none of this folder's doing, and holding back no
    // file would find it again forever.
    if (!found) return conflicts;
  }
}

/** What settleDependents reads and writes of a planned change (plan.ts's PlannedJob). */
interface DependentsView {
  id: string;
  action: JobfileAction;
  job: { spec: { after?: readonly string[] } } | null;
  rearms: string[];
  canceledAtOnce?: string | null;
}

/** A job's state once the plan is applied, where the plan decides it; else as stored (null: unknown). */
function stateAfterPlan(
  id: string,
  planned: ReadonlyMap<string, DependentsView>,
  facts: ReadonlyMap<string, JobFacts>,
): JobState | null {
  switch (planned.get(id)?.action) {
    case "create":
    case "replace":
      return "pending";
    case "defer":
    case "dropDeferred":
    case "skipCompleted":
      return "processing";
    case "showCompleted":
      return "completed";
    case "cancel":
      return "canceled";
    default:
      return facts.get(id)?.state ?? null;
  }
}

/**
 * Tells each change what the apply will do to the jobs that wait, by the rule the apply uses
 * (dependentState), so that the plan says what will happen: a job queued with an `after` that
 * names a job that ended dead or canceled, and that this plan does not queue again, is
 * canceled at once (`canceledAtOnce`); and a canceled dependent is re-armed only if none of its
 * other dependencies ended too (`rearms` keeps only those). Jobs are decided dependencies
 * first, so a decision carries down a chain: a job re-armed here counts as waiting for the
 * jobs after it, and one canceled at once as canceled. A dependent whose `after` the store did
 * not give is left as the store reported it.
 */
export function settleDependents(changes: DependentsView[], facts: ReadonlyMap<string, JobFacts>): void {
  const planned = new Map(changes.map((change) => [change.id, change]));
  const decided = new Map<string, JobState>();
  const afterOf = (id: string) => planned.get(id)?.job?.spec.after ?? facts.get(id)?.spec.after;
  const queued = changes.filter(
    (change) =>
      (change.action === "create" || change.action === "replace") &&
      (change.job?.spec.after ?? []).length > 0,
  );
  const queuedIds = new Set(queued.map((change) => change.id));
  const rearmable = new Set(changes.flatMap((change) => change.rearms));
  const nodes = [...new Set([...queued.map((change) => change.id), ...rearmable])];
  const edges = new Map(nodes.map((id) => [id, [...(afterOf(id) ?? [])]]));
  const atOnce = new Map<string, string | null>();
  for (const id of dependencyOrder(nodes, edges)) {
    const after = afterOf(id);
    if (after === undefined) continue;
    const decision = dependentState(
      after.flatMap((dependency) => {
        const state = decided.get(dependency) ?? stateAfterPlan(dependency, planned, facts);
        return state === null ? [] : [{ id: dependency, state, canceledBy: null }];
      }),
    );
    const canceled = decision.state === "canceled";
    decided.set(id, canceled ? "canceled" : "pending");
    if (queuedIds.has(id)) atOnce.set(id, canceled ? decision.reason : null);
  }
  for (const change of queued) change.canceledAtOnce = atOnce.get(change.id) ?? null;
  for (const change of changes) change.rearms = change.rearms.filter((id) => decided.get(id) !== "canceled");
}
