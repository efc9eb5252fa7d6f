/** The pure dependency decisions: what a dependent becomes, and in which order a set is re-armed. */

import { describe, expect, test } from "bun:test";
import {
  type CanceledAtOnce,
  canceledAtOnceCauses,
  canceledAtOnceWarnings,
  cascadeOf,
  type DependencyStatus,
  dependencyEndedError,
  dependencyOrder,
  dependentState,
  type EndedJob,
  MissingDependencyError,
} from "../../src/core/dependencies.ts";
import type { JobState } from "../../src/core/job.ts";

const dep = (id: string, state: JobState, canceledBy: string | null = null): DependencyStatus => ({
  id,
  state,
  canceledBy,
});

describe("dependentState", () => {
  test("no dependencies, or all completed: claimable", () => {
    expect(dependentState([])).toEqual({ state: "pending", blocked: false });
    expect(dependentState([dep("a", "completed"), dep("b", "completed")])).toEqual({
      state: "pending",
      blocked: false,
    });
  });

  test("any unfinished dependency: blocked", () => {
    for (const state of ["pending", "processing", "failed"] as const) {
      expect(dependentState([dep("a", "completed"), dep("b", state)])).toEqual({
        state: "pending",
        blocked: true,
      });
    }
  });

  test("a dead or canceled dependency cancels it, whatever the others, and names that one", () => {
    expect(dependentState([dep("a", "pending"), dep("b", "dead")])).toMatchObject({
      state: "canceled",
      dependency: "b",
      root: "b",
      reason: "dependency b ended dead",
    });
    expect(dependentState([dep("a", "completed"), dep("b", "canceled")])).toMatchObject({
      state: "canceled",
      dependency: "b",
      root: "b",
      reason: "dependency b ended canceled",
    });
  });

  test("a dependency canceled by its own dependency passes on the root cause", () => {
    expect(dependentState([dep("b", "canceled", "a")])).toMatchObject({
      state: "canceled",
      dependency: "b",
      root: "a",
      reason: "dependency b was canceled because a did not complete",
    });
  });

  test("the choice among several ended dependencies does not depend on their order", () => {
    const one = dependentState([dep("z", "dead"), dep("m", "canceled")]);
    const two = dependentState([dep("m", "canceled"), dep("z", "dead")]);
    expect(one).toEqual(two);
    expect(one).toMatchObject({ dependency: "m" });
  });
});

describe("dependencyOrder", () => {
  test("every job comes after its dependencies within the set; others are ignored", () => {
    const edges = new Map([
      ["d", ["c", "x"]],
      ["c", ["b"]],
      ["b", ["a"]],
    ]);
    expect(dependencyOrder(["d", "c", "b"], edges)).toEqual(["b", "c", "d"]);
    expect(dependencyOrder(["d", "b"], edges)).toEqual(["b", "d"]);
  });

  test("the same order as a plain recursive walk, on random graphs with cycles", () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 100_000);
    console.log(`dependencyOrder random graphs: seed ${seed}`);
    let state = seed;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state % n;
    };
    // The walk as it was written before it kept its own stack.
    const recursive = (ids: string[], edges: Map<string, string[]>) => {
      const inSet = new Set(ids);
      const ordered: string[] = [];
      const placed = new Set<string>();
      const place = (id: string, path: Set<string>) => {
        if (placed.has(id) || path.has(id)) return;
        path.add(id);
        for (const next of [...(edges.get(id) ?? [])].sort()) if (inSet.has(next)) place(next, path);
        placed.add(id);
        ordered.push(id);
      };
      for (const id of [...ids].sort()) place(id, new Set());
      return ordered;
    };
    for (let round = 0; round < 500; round++) {
      const names = Array.from({ length: 1 + random(12) }, (_, i) => `j${i}`);
      const edges = new Map(names.map((id) => [id, names.filter(() => random(4) === 0)]));
      const ids = names.filter(() => random(3) !== 0);
      expect(dependencyOrder(ids, edges)).toEqual(recursive(ids, edges));
    }
  });

  test("a pipeline of 100,000 steps whose last step sorts first is ordered without running out of stack", () => {
    const name = (step: number) => `k${String(99_999 - step).padStart(5, "0")}`;
    const ids = Array.from({ length: 100_000 }, (_, step) => name(step));
    const edges = new Map(ids.map((id, step) => [id, step === 0 ? [] : [name(step - 1)]]));
    const ordered = dependencyOrder(ids, edges);
    expect(ordered[0]).toBe(name(0));
    expect(ordered.at(-1)).toBe(name(99_999));
  });
});

describe("dependencyEndedError", () => {
  test("names the job, the dependency and the command that fixes it, exit 2", () => {
    const decision = dependentState([dep("a", "dead")]);
    if (decision.state !== "canceled") throw new Error("expected a cancel");
    const error = dependencyEndedError("b", decision, { state: "dead", canceledByRoot: true });
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('job "b" waits for "a", which is dead');
    expect(error.hint).toBe(
      'run "a" again first (queuectl dlq retry a); "b" then waits for it again; nothing was changed',
    );
  });

  test("a root that was canceled is run again with rerun, and a job it did not cancel is rerun after", () => {
    const decision = dependentState([dep("b", "canceled", "a")]);
    if (decision.state !== "canceled") throw new Error("expected a cancel");
    const error = dependencyEndedError("c", decision, { state: "canceled", canceledByRoot: false });
    expect(error.message).toBe('job "c" waits for "b", which is canceled because "a" did not complete');
    expect(error.hint).toBe('run "a" again first (queuectl rerun a); then rerun "c"; nothing was changed');
  });
});

describe("cascadeOf", () => {
  const waits = new Map([
    ["b", ["a"]],
    ["c", ["b"]],
    ["d", ["c", "x"]],
    ["e", ["a"]],
  ]);
  const states: Record<string, JobState> = { b: "completed", c: "pending", d: "failed", e: "processing" };

  test("everything downstream that has not started, through finished links too, never a root", () => {
    const stateOf = (id: string) => states[id] ?? null;
    expect(cascadeOf(["a"], waits, stateOf)).toEqual(new Map([["a", ["c", "d"]]]));
    // c is a removal of its own: named there, and d goes with the first root that reaches it.
    expect(cascadeOf(["a", "c"], waits, stateOf)).toEqual(
      new Map([
        ["a", ["d"]],
        ["c", []],
      ]),
    );
    expect(cascadeOf(["x"], waits, stateOf)).toEqual(new Map([["x", ["d"]]]));
    expect(cascadeOf(["z"], waits, stateOf)).toEqual(new Map([["z", []]]));
  });
});

describe("MissingDependencyError", () => {
  const words = (error: MissingDependencyError) => `${error.message} — ${error.hint}`;
  const missing = new MissingDependencyError("job-mx1-ab", "nope");
  test("as the store raises it: the job by its id, and the file it may go in", () => {
    expect(words(missing)).toBe(
      'job "job-mx1-ab" waits for "nope", which is not in the queue — enqueue that job first, in the same file, or fix the `after` list',
    );
  });
  test("worded again by its door, naming a generated id nowhere", () => {
    const origin = { input: "jobs.ndjson", where: "line 4", idGiven: false };
    expect(words(missing.wordedFor({ ...origin, door: "options" }))).toBe(
      '--after names "nope", which is not in the queue — enqueue "nope" first, or fix --after',
    );
    expect(words(missing.wordedFor({ ...origin, door: "argument" }))).toBe(
      'the job waits for "nope", which is not in the queue — enqueue that job first, or fix the `after` list',
    );
    expect(words(missing.wordedFor({ ...origin, door: "input" }))).toStartWith(
      'jobs.ndjson, line 4: the job waits for "nope"',
    );
    expect(words(missing.wordedFor({ ...origin, door: "input", idGiven: true }))).toBe(
      `jobs.ndjson, line 4: ${words(missing)}`,
    );
    expect(missing.wordedFor(undefined)).toBe(missing);
  });
});

describe("canceledAtOnceCauses", () => {
  const waits = new Map([
    ["a", ["dead-one", "pending-one"]],
    ["b", ["a"]],
    ["c", ["b", "gone"]],
    ["d", ["pending-one"]],
  ]);
  const ended = new Map<string, EndedJob>([
    ["dead-one", { state: "dead", canceledBy: null }],
    ["gone", { state: "canceled", canceledBy: null }],
  ]);
  test("each canceled job of the input with its root, decided as the store decides it", () => {
    const causes = canceledAtOnceCauses(["c", "b", "a"], waits, ended);
    expect(
      causes.map(({ id, decision, rootState }) => [id, decision.dependency, decision.root, rootState]),
    ).toEqual([
      ["a", "dead-one", "dead-one", "dead"],
      ["b", "a", "dead-one", "dead"],
      ["c", "b", "dead-one", "dead"],
    ]);
  });
  test("a dependency canceled because another job died names that job as the one to run again", () => {
    // c was canceled because a died; e, queued after c, waits for c.
    const outside = new Map<string, EndedJob>([
      ["c", { state: "canceled", canceledBy: "a" }],
      ["a", { state: "dead", canceledBy: null }],
    ]);
    const [cause] = canceledAtOnceCauses(["e"], new Map([["e", ["c"]]]), outside);
    expect([cause?.decision.root, cause?.rootState]).toEqual(["a", "dead"]);
    expect(canceledAtOnceWarnings(cause ? [cause] : [])).toEqual([
      'job "e" was canceled at once: dependency c was canceled because a did not complete — run "a" again (queuectl dlq retry a) and "e" waits for it again',
    ]);
  });

  test("warnings: one line per job up to five, then a count; rerun for a canceled root", () => {
    const cause = (id: string, rootState: "dead" | "canceled"): CanceledAtOnce => ({
      id,
      rootState,
      decision: {
        state: "canceled",
        dependency: "r",
        dependencyState: rootState,
        root: "r",
        reason: `dependency r ended ${rootState}`,
      },
    });
    expect(canceledAtOnceWarnings([cause("j", "canceled")])).toEqual([
      'job "j" was canceled at once: dependency r ended canceled — run "r" again (queuectl rerun r) and "j" waits for it again',
    ]);
    const many = canceledAtOnceWarnings(["1", "2", "3", "4", "5", "6"].map((id) => cause(id, "dead")));
    expect(many).toHaveLength(6);
    expect(many[4]).toContain("(queuectl dlq retry r)");
    expect(many[5]).toBe("1 more job was canceled at once: queuectl list --state canceled");
    expect(canceledAtOnceWarnings([])).toEqual([]);
  });
});
