/**
 * Dependency graphs (`after`): cycles are refused at enqueue or sync with the cycle named,
 * since a cycle would leave every job in it waiting forever.
 */

import { UserError } from "./errors.ts";
import type { JobState } from "./job.ts";

/** Returns one cycle as a list of ids (first = last), or null. `edges` maps id → ids it waits for. */
export function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    const seen = state.get(id);
    if (seen === "done") return null;
    if (seen === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return null;
}

export function assertNoCycle(edges: ReadonlyMap<string, readonly string[]>): void {
  const cycle = findCycle(edges);
  if (cycle) {
    throw new UserError(
      `the dependencies form a cycle: ${cycle.join(" → ")}`,
      "remove one `after` entry of the cycle",
    );
  }
}

/** A dependency as the decision about its dependent sees it. */
export interface DependencyStatus {
  id: string;
  state: JobState;
  /** Set when the dependency was itself canceled because one of its own dependencies ended. */
  canceledBy: string | null;
}

/** What a job that waits for its dependencies should be, once it is queued (again). */
export type DependentState =
  | { state: "pending"; blocked: boolean }
  | {
      state: "canceled";
      /** The dependency that ended. */
      dependency: string;
      dependencyState: "dead" | "canceled";
      /**
       * The job whose end started it all, remembered as `canceled_by`: running that one again
       * (`dlq retry`, `rerun`, or its jobfile coming back) re-arms this job.
       */
      root: string;
      reason: string;
    };

/**
 * Decides a dependent's state from all of its dependencies: canceled when any of them ended
 * dead or canceled (it would wait forever), blocked pending while any is unfinished, and
 * pending (claimable) once all completed. Used when a job is queued with `after`, when it is
 * queued again, and when the job that canceled it is queued again.
 */
export function dependentState(dependencies: readonly DependencyStatus[]): DependentState {
  const ended = [...dependencies]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .find((dependency) => dependency.state === "dead" || dependency.state === "canceled");
  if (ended) {
    const dependencyState = ended.state as "dead" | "canceled";
    const root = ended.state === "canceled" && ended.canceledBy !== null ? ended.canceledBy : ended.id;
    return {
      state: "canceled",
      dependency: ended.id,
      dependencyState,
      root,
      reason:
        root === ended.id
          ? `dependency ${ended.id} ended ${dependencyState}`
          : `dependency ${ended.id} was canceled because ${root} did not complete`,
    };
  }
  return { state: "pending", blocked: dependencies.some((dependency) => dependency.state !== "completed") };
}

/**
 * The order in which to re-arm a set of canceled jobs: every job after those of its
 * dependencies that are in the set, so each decision sees its dependencies' new state.
 * `edges` maps id → ids it waits for; ids outside the set are ignored. Ties keep id order.
 */
export function dependencyOrder(
  ids: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[] {
  const inSet = new Set(ids);
  const ordered: string[] = [];
  const placed = new Set<string>();
  const place = (id: string, path: Set<string>) => {
    if (placed.has(id) || path.has(id)) return;
    path.add(id);
    for (const dependency of [...(edges.get(id) ?? [])].sort())
      if (inSet.has(dependency)) place(dependency, path);
    placed.add(id);
    ordered.push(id);
  };
  for (const id of [...ids].sort()) place(id, new Set());
  return ordered;
}

/**
 * The one-line refusal of a manual move (`rerun`, `dlq retry <id>`) of a job whose dependency
 * ended: queued again it would be canceled in the same instant, so nothing changes instead.
 * `root.state` is the state of `decision.root` (it picks the command that runs it again);
 * `root.canceledByRoot` says whether running the root again re-arms this job by itself.
 */
export function dependencyEndedError(
  jobId: string,
  decision: Extract<DependentState, { state: "canceled" }>,
  root: { state: JobState | null; canceledByRoot: boolean },
): UserError {
  const command = root.state === "dead" ? "queuectl dlq retry" : "queuectl rerun";
  const because = decision.root === decision.dependency ? "" : ` because "${decision.root}" did not complete`;
  const then = root.canceledByRoot ? `"${jobId}" then waits for it again` : `then rerun "${jobId}"`;
  return new UserError(
    `job "${jobId}" waits for "${decision.dependency}", which is ${decision.dependencyState}${because}`,
    `run "${decision.root}" again first (${command} ${decision.root}); ${then}; nothing was changed`,
  );
}

/** A stored `after` edge: `id` waits for `dependsOn`; `state` is `id`'s. */
export interface DependencyEdge {
  id: string;
  dependsOn: string;
  state: JobState;
}

/**
 * What canceling `roots` cancels with them, per root: every job downstream of it (through
 * any number of `after` links, whatever their states) that is pending or failed, as the
 * stores' cancelDependents does. `waits` gives each job's `after` list and `stateOf` its
 * state as they will be once the declarations of the same sync are written. A root is never
 * listed under another: it is a change of its own. Roots are taken in order, and a job is
 * listed under the first that reaches it, as the apply cancels it then.
 */
export function cascadeOf(
  roots: readonly string[],
  waits: ReadonlyMap<string, readonly string[]>,
  stateOf: (id: string) => JobState | null,
): Map<string, string[]> {
  const dependents = new Map<string, string[]>();
  for (const [id, after] of waits)
    for (const dependsOn of after) dependents.set(dependsOn, [...(dependents.get(dependsOn) ?? []), id]);
  const isRoot = new Set(roots);
  const taken = new Set<string>();
  const result = new Map<string, string[]>();
  for (const root of roots) {
    const canceled: string[] = [];
    const seen = new Set([root]);
    const queue = [...(dependents.get(root) ?? [])];
    while (queue.length > 0) {
      const id = queue.shift() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...(dependents.get(id) ?? []));
      const state = stateOf(id);
      if (isRoot.has(id) || taken.has(id) || (state !== "pending" && state !== "failed")) continue;
      taken.add(id);
      canceled.push(id);
    }
    result.set(root, canceled.sort());
  }
  return result;
}
