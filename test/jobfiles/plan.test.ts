/** The pure planner: each id's decided action, ownership, removals and problems, without a store. */

import { describe, expect, test } from "bun:test";
import type { JobState } from "../../src/core/job.ts";
import type { JobFacts } from "../../src/core/reconcile.ts";
import { specRevision } from "../../src/core/spec.ts";
import type { DesiredJob, DesiredState } from "../../src/jobfiles/desired.ts";
import { type ActualState, plan, planChanges } from "../../src/jobfiles/plan.ts";
import type { DeclaredJob } from "../../src/store/store.ts";

const ROOT = "/srv/jobs";
const OTHER = "/srv/other-repo/jobs";
const STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"] as const;

function desiredJob(id: string, command: string, file = `${id}.yaml`): DesiredJob {
  const spec = { id, command };
  return {
    spec,
    revision: specRevision(spec),
    maxRetries: 3,
    nextRunAt: 0,
    source: `${ROOT}/${file}`,
    file,
    line: 1,
    column: 1,
  };
}

function facts(job: DesiredJob, state: JobState, extra: Partial<JobFacts> = {}): JobFacts {
  return {
    id: job.spec.id,
    state,
    revision: job.revision,
    spec: job.spec,
    nextRevision: null,
    source: job.source,
    declared: true,
    owner: ROOT,
    completed: [],
    canceledDependents: [],
    canceledByRemoval: false,
    ...extra,
  };
}

function declaredOf(row: JobFacts): DeclaredJob {
  const { id, source, revision, state, declared, owner } = row;
  return { id, source: source ?? "", revision, state, declared, owner };
}

function actual(rows: JobFacts[], extra: Partial<ActualState> = {}): ActualState {
  return {
    declared: rows.filter((row) => row.source !== null).map(declaredOf),
    existing: rows,
    schedules: [],
    ...extra,
  };
}

function desired(jobs: DesiredJob[], extra: Partial<DesiredState> = {}): DesiredState {
  return { root: ROOT, jobs, problems: [], blocked: [], blockedIds: [], ...extra };
}

function actions(result: ReturnType<typeof plan>): string[] {
  return result.changes.map((change) => `${change.id} ${change.action}`);
}

describe("plan", () => {
  test("a new id is created, and sent to the store with the folder as its owner", () => {
    const a = desiredJob("a", "echo a");
    const result = plan(desired([a]), actual([]));
    expect(actions(result)).toEqual(["a create"]);
    expect(planChanges(result, ROOT)).toEqual({
      declarations: [
        {
          spec: a.spec,
          revision: a.revision,
          maxRetries: 3,
          nextRunAt: 0,
          source: a.source,
          owner: ROOT,
          adoptFrom: null,
        },
      ],
      removals: [],
    });
  });

  test("an id a file in error still declares is not taken over by another file", () => {
    const fromB = desiredJob("p", "echo from-b", "b.yaml");
    const fromA = desiredJob("p", "echo from-a", "a.yaml");
    const problem = { file: "b.yaml", line: 3, column: 1, field: "timeout", message: "bad", hint: "" };
    const broken = { blocked: ["b.yaml"], blockedIds: ["p"], problems: [problem] };
    const result = plan(desired([fromA], broken), actual([facts(fromB, "pending")]));
    expect(result.changes).toEqual([]);
    expect(result.errors.map((e) => `${e.file}:${e.line} ${e.field} ${e.message}`)).toEqual([
      'a.yaml:1 id id "p" is held by b.yaml, which is in error',
      "b.yaml:3 timeout bad",
    ]);
    // b.yaml only being saved or removed (no problem of its own): a move goes through.
    const settling = plan(
      desired([fromA], { blocked: ["b.yaml"], blockedIds: ["p"] }),
      actual([facts(fromB, "pending")]),
    );
    expect(actions(settling)).toEqual(["p replace"]);
  });

  test("a file in error holds its stored jobs even when its broken text no longer names them", () => {
    const fromB = desiredJob("p", "echo from-b", "b.yaml");
    const fromA = desiredJob("p", "echo from-a", "a.yaml");
    const problem = { file: "b.yaml", line: 1, column: 1, field: null, message: "invalid YAML", hint: "" };
    const broken = { blocked: ["b.yaml"], blockedIds: [], problems: [problem] };
    const held = plan(desired([fromA], broken), actual([facts(fromB, "pending")]));
    expect(held.changes).toEqual([]);
    expect(held.errors.map((e) => `${e.file} ${e.message}`)).toContain(
      'a.yaml id "p" is held by b.yaml, which is in error',
    );
    // A row b.yaml stopped declaring while it was still good is no longer held by it.
    const released = plan(desired([fromA], broken), actual([facts(fromB, "canceled", { declared: false })]));
    expect(released.errors.map((e) => e.file)).toEqual(["b.yaml"]);
    expect(actions(released)).toEqual(["p replace"]);
  });

  test("a folder that cannot be read holds the jobs of every file under it", () => {
    const moved = desiredJob("p", "echo moved", "b.yaml");
    const stored = facts(desiredJob("p", "echo before", "sub/a.yaml"), "pending");
    const problem = { file: "sub/", line: 1, column: 1, field: null, message: "permission denied", hint: "" };
    const unreadable = { blocked: ["sub/"], problems: [problem] };
    const result = plan(desired([moved], unreadable), actual([stored]));
    expect(result.changes).toEqual([]);
    expect(result.errors.map((e) => `${e.file} ${e.message}`)).toContain(
      'b.yaml id "p" is held by sub/a.yaml, which is in error',
    );
  });

  test("the same revision is unchanged in every state", () => {
    const a = desiredJob("a", "echo a");
    for (const state of STATES) {
      const result = plan(desired([a]), actual([facts(a, state)]));
      expect(result.unchanged).toEqual([a]);
      expect(result.changes).toEqual([]);
    }
  });

  test("a new revision: replaced when waiting or finished, deferred behind a running attempt", () => {
    const before = desiredJob("a", "echo v1");
    const after = desiredJob("a", "echo v2");
    const expected = { pending: "replace", processing: "defer", failed: "replace" } as Record<string, string>;
    for (const state of STATES) {
      const result = plan(desired([after]), actual([facts(before, state)]));
      expect(actions(result)).toEqual([`a ${expected[state] ?? "replace"}`]);
      expect(result.changes[0]?.fields).toEqual([{ field: "command", from: "echo v1", to: "echo v2" }]);
    }
  });

  test("a revision the id completed is never queued again, whatever the state", () => {
    const v1 = desiredJob("a", "echo v1");
    const v2 = desiredJob("a", "echo v2");
    const completed = [{ revision: v1.revision, at: 1_700_000_000_000 }];
    for (const state of STATES) {
      const result = plan(desired([v1]), actual([facts(v2, state, { completed })]));
      // A running attempt of v2 finishes, nothing is queued after it, and the plan says so.
      expect(actions(result)).toEqual([state === "processing" ? "a skipCompleted" : "a showCompleted"]);
      expect(result.changes[0]?.completed).toEqual(completed[0] ?? null);
    }
  });

  test("a revision queued behind the running attempt is unchanged; going back drops it", () => {
    const v1 = desiredJob("a", "echo v1");
    const v2 = desiredJob("a", "echo v2");
    const running = facts(v1, "processing", { nextRevision: v2.revision });
    expect(plan(desired([v2]), actual([running])).unchanged).toEqual([v2]);
    expect(actions(plan(desired([v1]), actual([running])))).toEqual(["a dropDeferred"]);
  });

  test("a removed file is a cancel for waiting jobs and a forget for running and finished ones", () => {
    const rows = STATES.map((state) => facts(desiredJob(`j-${state}`, "echo"), state));
    const result = plan(desired([]), actual(rows));
    expect(actions(result)).toEqual([
      "j-pending cancel",
      "j-processing forget",
      "j-completed forget",
      "j-failed cancel",
      "j-dead forget",
      "j-canceled forget",
    ]);
    const gone = rows.map((row) => ({ ...row, declared: false }));
    expect(plan(desired([]), actual(gone)).changes).toEqual([]);
  });

  test("a canceled job whose file comes back is restored, re-arming what its removal canceled", () => {
    const a = desiredJob("a", "echo a");
    const row = facts(a, "canceled", { declared: false, canceledDependents: ["b"], canceledByRemoval: true });
    const result = plan(desired([a]), actual([row]));
    expect(actions(result)).toEqual(["a replace"]);
    expect(result.changes[0]?.rearms).toEqual(["b"]);
  });

  test("jobs of blocked files and folders, blocked ids and other folders are never removed", () => {
    const a = facts(desiredJob("a", "echo a", "broken.yaml"), "pending");
    const b = facts(desiredJob("b", "echo b", "sub/b.yaml"), "pending");
    const c = facts(desiredJob("c", "echo c", "moved-away.yaml"), "pending");
    const elsewhere = facts(desiredJob("d", "echo d"), "pending", {
      source: `${OTHER}/d.yaml`,
      owner: OTHER,
    });
    const state = desired([], { blocked: ["broken.yaml", "sub/"], blockedIds: ["c"] });
    expect(plan(state, actual([a, b, c, elsewhere])).changes).toEqual([]);
  });
});

describe("ownership", () => {
  const theirs = (job: DesiredJob, extra: Partial<JobFacts> = {}) =>
    facts(job, "completed", { source: `${OTHER}/${job.file}`, owner: OTHER, ...extra });

  test("an id another live folder declares is one error naming both folders and the way out", () => {
    const build = desiredJob("build", "echo mine");
    const result = plan(desired([build]), actual([theirs(desiredJob("build", "echo theirs"))]));
    expect(result.changes).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.message).toBe(`id "build" belongs to the jobs folder ${OTHER}, not to ${ROOT}`);
    expect(result.errors[0]?.hint).toContain("namespace");
    expect(result.errors[0]?.hint).toContain("--adopt");
  });

  test("a folder takes its jobs back when the owner is gone, no longer declares them, or on --adopt", () => {
    const build = desiredJob("build", "echo b");
    const row = theirs(build);
    const gone = plan(desired([build]), actual([row], { missingOwners: new Set([OTHER]) }));
    expect(gone.changes.map((change) => [change.action, change.adopt])).toEqual([
      ["redeclare", { from: OTHER, reason: "gone" }],
    ]);
    expect(planChanges(gone, ROOT).declarations[0]?.adoptFrom).toBe(OTHER);
    const undeclared = plan(desired([build]), actual([{ ...row, declared: false }]));
    expect(undeclared.changes[0]?.adopt).toEqual({ from: OTHER, reason: "undeclared" });
    const asked = plan(desired([build]), actual([row]), { adopt: true });
    expect(asked.changes[0]?.adopt).toEqual({ from: OTHER, reason: "asked" });
  });

  test("rows declared before owners were kept belong to the folder that holds their file", () => {
    const a = desiredJob("a", "echo a");
    expect(plan(desired([a]), actual([facts(a, "pending", { owner: null })])).changes).toMatchObject([
      { action: "redeclare", adopt: null },
    ]);
    const foreign = facts(a, "pending", { owner: null, source: `${OTHER}/a.yaml` });
    expect(plan(desired([a]), actual([foreign])).errors[0]?.message).toContain(`${OTHER}/a.yaml`);
  });

  test("an id used by an ad hoc job is an error for its file, holding back the whole file", () => {
    const a = desiredJob("taken", "echo a", "x.yaml");
    const b = desiredJob("free", "echo b", "x.yaml");
    const byHand = facts(a, "pending", { source: null, owner: null, declared: false });
    const result = plan(desired([a, b]), actual([byHand]));
    expect(result.changes).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ file: "x.yaml", field: "id" });
    expect(result.errors[0]?.message).toContain("enqueued by hand");
  });

  test("two files declaring one id are both in error, with all their jobs held back", () => {
    const first = desiredJob("same", "echo 1", "one.yaml");
    const second = desiredJob("same", "echo 2", "two.yaml");
    const sibling = desiredJob("sibling", "echo s", "two.yaml");
    const result = plan(desired([first, second, sibling]), actual([facts(sibling, "pending")]));
    expect(result.changes).toEqual([]);
    expect(result.errors.map((e) => [e.file, e.field])).toEqual([
      ["one.yaml", "id"],
      ["two.yaml", "id"],
    ]);
    expect(result.errors[0]?.message).toContain("two.yaml:1:1");
  });

  test("an occurrence id of a schedule outside a scoped plan's schedules is still refused", () => {
    const taken = desiredJob("nightly@2026-01-01T03:00:00.000Z", "echo taken", "taken.yaml");
    const result = plan(desired([taken]), actual([], { allScheduleIds: ["nightly"] }));
    expect(result.changes).toEqual([]);
    expect(result.errors.map((e) => [e.file, e.field, e.message])).toEqual([
      [
        "taken.yaml",
        "id",
        'id "nightly@2026-01-01T03:00:00.000Z" is the id of an occurrence of schedule "nightly"',
      ],
    ]);
  });

  test("a job turned schedule, or schedule turned job, carries why in its plan", () => {
    const job = desiredJob("x", "echo x");
    const scheduled: DesiredJob = { ...job, spec: { ...job.spec, schedule: "0 3 * * *" } };
    const stored = { id: "x", source: job.source, revision: scheduled.revision };
    const toSchedule = plan(desired([scheduled]), actual([facts(job, "completed")]));
    expect(toSchedule.changes.map((change) => [change.action, change.reason])).toEqual([
      ["forget", "nowSchedule"],
    ]);
    const toJob = plan(
      desired([job]),
      actual([facts(job, "completed", { declared: false })], { schedules: [stored] }),
    );
    expect(toJob.changes.map((change) => [change.action, change.reason])).toEqual([["redeclare", "nowJob"]]);
    expect(toJob.schedules.removals.map((removal) => [removal.actual.id, removal.reason])).toEqual([
      ["x", "nowJob"],
    ]);
    const removed = plan(desired([]), actual([facts(job, "pending")], { schedules: [stored] }));
    expect(removed.changes.map((change) => [change.action, change.reason])).toEqual([
      ["cancel", "jobfileRemoved"],
    ]);
    expect(removed.schedules.removals.map((removal) => removal.reason)).toEqual(["jobfileRemoved"]);
  });

  test("a plain job may not take the id of another live folder's schedule, named by its folder", () => {
    const rotate = desiredJob("rotate", "echo b");
    const schedule = { id: "rotate", source: `${OTHER}/rotate.yaml`, revision: "r", owner: OTHER };
    const result = plan(desired([rotate]), actual([], { schedules: [schedule] }));
    expect(result.changes).toEqual([]);
    expect(result.schedules.removals).toEqual([]);
    expect(result.errors[0]?.message).toBe(`id "rotate" belongs to the jobs folder ${OTHER}, not to ${ROOT}`);
    const gone = plan(
      desired([rotate]),
      actual([], { schedules: [schedule], missingOwners: new Set([OTHER]) }),
    );
    expect(gone.errors).toEqual([]);
    expect(gone.schedules.removals).toMatchObject([
      { file: "rotate.yaml", reason: "nowJob", adopt: { from: OTHER, reason: "gone" } },
    ]);
  });
});
