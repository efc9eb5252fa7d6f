/**
 * Dependency graphs (`after`): cycles are refused at enqueue or sync with the cycle named,
 * since a cycle would leave every job in it waiting forever. Also the words for a dependency
 * that is missing, or that had ended when its dependent was queued, as each door says them.
 */

import { cycleText, findCycle } from "./dependency-cycles.ts";
import { UserError } from "./errors.ts";
import type { JobState } from "./job.ts";

export function assertNoCycle(edges: ReadonlyMap<string, readonly string[]>): void {
  const cycle = findCycle(edges);
  if (cycle) {
    throw new UserError(
      `the dependencies form a cycle: ${cycleText(cycle)}`,
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
 * The walk keeps its own stack: a pipeline of a hundred thousand steps is a path that deep.
 */
export function dependencyOrder(
  ids: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[] {
  const inSet = new Set(ids);
  const ordered: string[] = [];
  const placed = new Set<string>();
  const dependenciesOf = (id: string) =>
    [...(edges.get(id) ?? [])].sort().filter((dependency) => inSet.has(dependency));
  for (const root of [...ids].sort()) {
    if (placed.has(root)) continue;
    // A job met again on the way down waits on itself: that edge is skipped, not followed.
    const path = new Set([root]);
    const stack = [{ id: root, next: dependenciesOf(root), at: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as (typeof stack)[number];
      const dependency = top.next[top.at++];
      if (dependency === undefined) {
        stack.pop();
        placed.add(top.id);
        ordered.push(top.id);
      } else if (!placed.has(dependency) && !path.has(dependency)) {
        path.add(dependency);
        stack.push({ id: dependency, next: dependenciesOf(dependency), at: 0 });
      }
    }
  }
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
  /** `id` cannot start yet: one of its dependencies has not completed. */
  blocked: boolean;
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
  // Lists grown in place and a queue read by index: a job ten thousand others wait for must
  // not cost a copy of the list per dependent, nor a shift of the queue per step.
  const dependents = new Map<string, string[]>();
  for (const [id, after] of waits) {
    for (const dependsOn of after) {
      const list = dependents.get(dependsOn);
      if (list) list.push(id);
      else dependents.set(dependsOn, [id]);
    }
  }
  const isRoot = new Set(roots);
  const taken = new Set<string>();
  const result = new Map<string, string[]>();
  for (const root of roots) {
    const canceled: string[] = [];
    const seen = new Set([root]);
    const queue = [...(dependents.get(root) ?? [])];
    for (let next = 0; next < queue.length; next++) {
      const id = queue[next] as string;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const dependent of dependents.get(id) ?? []) queue.push(dependent);
      const state = stateOf(id);
      if (isRoot.has(id) || taken.has(id) || (state !== "pending" && state !== "failed")) continue;
      taken.add(id);
      canceled.push(id);
    }
    result.set(root, canceled.sort());
  }
  return result;
}

/**
 * Where a job came from, so that an error found only once the store reads it names what the
 * user wrote: `add`'s options, `enqueue`'s JSON argument, or an input such as a file (`input`
 * names it, `where` the line or item). A generated id is never named: the user did not see it.
 */
export interface JobOrigin {
  door: "options" | "argument" | "input";
  input: string;
  where: string;
  idGiven: boolean;
}

/**
 * A job whose `after` names an id the store does not have. The store raises it worded for a
 * file, the form it has always had; a door that knows the job's origin words it again with
 * `wordedFor`, so the rule stays in the store and only the words change.
 */
export class MissingDependencyError extends UserError {
  constructor(
    readonly jobId: string,
    readonly dependency: string,
    origin?: JobOrigin,
    /** The dependency is a schedule's id: no job to wait for, though the id is known. */
    readonly isSchedule = false,
  ) {
    const { message, hint } = isSchedule
      ? scheduleDependencyWords(dependency, origin)
      : missingDependencyWords(jobId, dependency, origin);
    super(message, hint);
    this.name = "MissingDependencyError";
  }

  wordedFor(origin: JobOrigin | undefined, isSchedule = this.isSchedule): MissingDependencyError {
    return origin === undefined && isSchedule === this.isSchedule
      ? this
      : new MissingDependencyError(this.jobId, this.dependency, origin, isSchedule);
  }
}

/** `after` naming a schedule: a schedule is no job, but makes one per occurrence. */
function scheduleDependencyWords(
  dependency: string,
  origin: JobOrigin | undefined,
): { message: string; hint: string } {
  const named = origin?.door === "options" ? "--after" : "`after`";
  return {
    message: `${named} names "${dependency}", which is a schedule, and a job cannot wait on a schedule`,
    hint: "wait for nothing, or for one occurrence by its id (see `queuectl list`)",
  };
}

function missingDependencyWords(
  jobId: string,
  dependency: string,
  origin: JobOrigin | undefined,
): { message: string; hint: string } {
  if (origin?.door === "options") {
    return {
      message: `--after names "${dependency}", which is not in the queue`,
      hint: `enqueue "${dependency}" first, or fix --after`,
    };
  }
  const sameInput = origin?.door === "argument" ? "" : ", in the same file";
  return {
    message: `${jobAsWritten(jobId, origin)} waits for "${dependency}", which is not in the queue`,
    hint: `enqueue that job first${sameInput}, or fix the \`after\` list`,
  };
}

/**
 * The job by its id when the user wrote one, else as "the job"; in a file, after where it
 * sits there, as any other error of a file's job is named.
 */
function jobAsWritten(jobId: string, origin: JobOrigin | undefined): string {
  if (origin === undefined) return `job "${jobId}"`;
  const job = origin.idGiven ? `job "${jobId}"` : "the job";
  if (origin.door !== "input") return job;
  // A lone job is the whole input, as prepareJob names it.
  return `${origin.where === "the job" ? origin.input : `${origin.input}, ${origin.where}`}: ${job}`;
}

/**
 * A job of one input that the store canceled as it queued it, because a dependency had
 * already ended (see dependentState); `rootState` is how `decision.root` ended, which picks
 * the command that runs it again.
 */
/** A job outside an input that ended badly, and the job whose end canceled it (if any). */
export interface EndedJob {
  state: "dead" | "canceled";
  canceledBy: string | null;
}

export interface CanceledAtOnce {
  id: string;
  decision: Extract<DependentState, { state: "canceled" }>;
  rootState: "dead" | "canceled";
}

/**
 * Why each of `canceled` (jobs of one input the store canceled as it queued them) was
 * canceled, decided as the store decided it: `waits` gives the input's `after` lists, `ended`
 * the jobs outside the input that had ended: the dependencies, with what canceled each
 * (its `canceled_by`), and those roots themselves, so the warning names the job to run again.
 */
export function canceledAtOnceCauses(
  canceled: readonly string[],
  waits: ReadonlyMap<string, readonly string[]>,
  ended: ReadonlyMap<string, EndedJob>,
): CanceledAtOnce[] {
  const isCanceled = new Set(canceled);
  const roots = new Map<string, string>();
  const causes: CanceledAtOnce[] = [];
  for (const id of dependencyOrder(canceled, waits)) {
    const statuses = (waits.get(id) ?? []).map((dependency): DependencyStatus => {
      const outside = ended.get(dependency);
      if (outside !== undefined)
        return { id: dependency, state: outside.state, canceledBy: outside.canceledBy };
      if (isCanceled.has(dependency))
        return { id: dependency, state: "canceled", canceledBy: roots.get(dependency) ?? null };
      return { id: dependency, state: "pending", canceledBy: null };
    });
    const decision = dependentState(statuses);
    if (decision.state !== "canceled") continue;
    roots.set(id, decision.root);
    causes.push({ id, decision, rootState: ended.get(decision.root)?.state ?? "canceled" });
  }
  return causes;
}

/** Jobs canceled at once that are each given a line of their own; the rest are counted. */
const CANCELED_AT_ONCE_SHOWN = 5;

/** What an enqueue says about jobs it queued canceled: what ended, and what re-arms them. */
export function canceledAtOnceWarnings(causes: readonly CanceledAtOnce[]): string[] {
  const lines = causes.slice(0, CANCELED_AT_ONCE_SHOWN).map(({ id, decision, rootState }) => {
    const command = rootState === "dead" ? "queuectl dlq retry" : "queuectl rerun";
    return `job "${id}" was canceled at once: ${decision.reason} — run "${decision.root}" again (${command} ${decision.root}) and "${id}" waits for it again`;
  });
  const more = causes.length - CANCELED_AT_ONCE_SHOWN;
  if (more > 0)
    lines.push(
      `${more} more ${more === 1 ? "job was" : "jobs were"} canceled at once: queuectl list --state canceled`,
    );
  return lines;
}
