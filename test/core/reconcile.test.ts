/**
 * DESIGN.md's reconcile table as the pure decision: every stored state against every kind
 * of declared revision (the same, a new one, one this id completed), and the history rule
 * that no completed revision is ever queued again, checked over every combination.
 */

import { describe, expect, test } from "bun:test";
import { JOB_STATES, type JobState } from "../../src/core/job.ts";
import { decideOwnership } from "../../src/core/ownership.ts";
import {
  decideDeclaration,
  decideRemoval,
  type JobFacts,
  type WantedDeclaration,
} from "../../src/core/reconcile.ts";

const ROOT = "/repo-a/jobs";

function stored(state: JobState, extra: Partial<JobFacts> = {}): JobFacts {
  return {
    id: "x",
    state,
    revision: "B",
    spec: { id: "x", command: "echo B" },
    nextRevision: null,
    source: `${ROOT}/x.yaml`,
    declared: true,
    owner: ROOT,
    completed: [{ revision: "A", at: 1 }],
    canceledDependents: [],
    canceledByRemoval: false,
    ...extra,
  };
}

function wanted(revision: string, extra: Partial<WantedDeclaration> = {}): WantedDeclaration {
  return { revision, source: `${ROOT}/x.yaml`, owner: ROOT, adoptFrom: null, ...extra };
}

const action = (facts: JobFacts | null, want: WantedDeclaration) => decideDeclaration(facts, want).action;

describe("decideDeclaration", () => {
  test("a new id is created", () => {
    expect(action(null, wanted("A"))).toBe("create");
  });

  test("an id without a row (purged) that completed the declared revision shows it, not queued", () => {
    const history = [{ revision: "A", at: 5 }];
    expect(decideDeclaration(null, wanted("A"), history)).toEqual({
      action: "showCompleted",
      completed: { revision: "A", at: 5 },
      rearms: [],
    });
    expect(decideDeclaration(null, wanted("B"), history).action).toBe("create");
  });

  test("the same revision does nothing, whatever the state", () => {
    for (const state of JOB_STATES) expect(action(stored(state), wanted("B"))).toBe("nothing");
  });

  test("a new revision: replace unless running, where it waits behind the attempt", () => {
    const expected: Record<JobState, string> = {
      pending: "replace",
      failed: "replace",
      processing: "defer",
      completed: "replace",
      dead: "replace",
      canceled: "replace",
    };
    for (const state of JOB_STATES) expect(action(stored(state), wanted("C"))).toBe(expected[state] as never);
  });

  test("a revision the id completed: the waiting run is dropped and the job shows it again", () => {
    for (const state of JOB_STATES) {
      const decision = decideDeclaration(stored(state), wanted("A"));
      // While another revision runs, the plan still says A completed and nothing runs after it.
      expect(decision.action).toBe(state === "processing" ? "skipCompleted" : "showCompleted");
      if (decision.action !== "nothing" && decision.action !== "refuse")
        expect(decision.completed).toEqual({ revision: "A", at: 1 });
    }
    const queuedBehind = stored("processing", { nextRevision: "C" });
    expect(action(queuedBehind, wanted("A"))).toBe("skipCompleted");
    expect(action(queuedBehind, wanted("B"))).toBe("dropDeferred");
    expect(action(queuedBehind, wanted("C"))).toBe("nothing");
  });

  test("history decides, not state: no completed revision is ever queued again", () => {
    for (const state of JOB_STATES) {
      for (const declared of [true, false]) {
        for (const nextRevision of [null, "A", "C"]) {
          for (const revision of ["A", "B", "C"]) {
            const facts = stored(state, { declared, nextRevision, completed: [{ revision: "A", at: 1 }] });
            const decision = decideDeclaration(facts, wanted(revision));
            const queues = ["create", "replace", "defer"].includes(decision.action);
            if (revision === "A") expect(queues).toBe(false);
          }
        }
      }
    }
  });

  test("a job its file's removal canceled is restored when the file comes back, and re-arms what it canceled", () => {
    const removed = stored("canceled", {
      declared: false,
      completed: [],
      canceledDependents: ["y"],
      canceledByRemoval: true,
    });
    expect(decideDeclaration(removed, wanted("B"))).toEqual({
      action: "replace",
      completed: null,
      rearms: ["y"],
    });
    const completedBefore = stored("canceled", {
      declared: false,
      completed: [{ revision: "B", at: 2 }],
      canceledByRemoval: true,
    });
    expect(action(completedBefore, wanted("B"))).toBe("showCompleted");
    expect(action(stored("dead", { declared: false }), wanted("B"))).toBe("redeclare");
  });

  test("a job the user canceled or killed stays canceled when its file goes and comes back", () => {
    const byUser = stored("canceled", { declared: false, completed: [], canceledByRemoval: false });
    expect(action(byUser, wanted("B"))).toBe("redeclare");
    // A new revision is new work: it is queued, as for any finished job.
    expect(action(byUser, wanted("C"))).toBe("replace");
  });

  test("a move to another file or folder only redeclares", () => {
    expect(action(stored("completed"), wanted("B", { source: `${ROOT}/y.yaml` }))).toBe("redeclare");
    expect(action(stored("completed", { owner: null }), wanted("B"))).toBe("redeclare");
  });

  test("an ad hoc job, and another folder's job not adopted, are refused", () => {
    expect(decideDeclaration(stored("pending", { source: null, owner: null }), wanted("B"))).toEqual({
      action: "refuse",
      owner: null,
    });
    const theirs = stored("pending", { owner: "/repo-b/jobs", source: "/repo-b/jobs/x.yaml" });
    expect(decideDeclaration(theirs, wanted("C"))).toEqual({ action: "refuse", owner: "/repo-b/jobs" });
    expect(action(theirs, wanted("C", { adoptFrom: "/repo-b/jobs" }))).toBe("replace");
  });
});

describe("decideRemoval", () => {
  test("waiting jobs are canceled; running and finished ones are forgotten; history stays", () => {
    const expected: Record<JobState, string> = {
      pending: "cancel",
      failed: "cancel",
      processing: "forget",
      completed: "forget",
      dead: "forget",
      canceled: "forget",
    };
    for (const state of JOB_STATES) {
      expect(decideRemoval(stored(state))).toBe(expected[state] as never);
      expect(decideRemoval(stored(state, { declared: false }))).toBe("nothing");
    }
  });
});

describe("decideOwnership", () => {
  const theirs = stored("completed", { owner: "/repo-b/jobs", source: "/repo-b/jobs/x.yaml" });
  const context = { root: ROOT, ownerExists: true, adopt: false };

  test("a live folder's id is foreign; gone, undeclared or --adopt make it adoptable", () => {
    expect(decideOwnership(theirs, context)).toEqual({ kind: "foreign", owner: "/repo-b/jobs" });
    expect(decideOwnership(theirs, { ...context, ownerExists: false })).toMatchObject({ reason: "gone" });
    expect(decideOwnership({ ...theirs, declared: false }, context)).toMatchObject({ reason: "undeclared" });
    expect(decideOwnership(theirs, { ...context, adopt: true })).toMatchObject({ reason: "asked" });
    // What this named folder pointed to before it was re-pointed: its jobs are ours now.
    expect(decideOwnership(theirs, { ...context, supersedes: "/repo-b/jobs" })).toEqual({
      kind: "adopt",
      from: "/repo-b/jobs",
      reason: "relinked",
    });
    expect(decideOwnership(theirs, { ...context, supersedes: "/repo-c/jobs" }).kind).toBe("foreign");
    expect(decideOwnership(stored("pending"), context)).toEqual({ kind: "ours" });
    expect(decideOwnership(null, context)).toEqual({ kind: "ours" });
    expect(decideOwnership(stored("pending", { source: null, owner: null }), context)).toEqual({
      kind: "adHoc",
    });
  });

  test("a row that knows only its file is refused naming the folder that holds it, and the file apart", () => {
    // A schedule no sync record places, or a row from before owners were kept.
    const fileOnly = stored("pending", { owner: null, source: "/repo-b/jobs/build.yaml" });
    expect(decideOwnership(fileOnly, context)).toEqual({
      kind: "foreign",
      owner: "/repo-b/jobs (declared by /repo-b/jobs/build.yaml)",
    });
  });
});
