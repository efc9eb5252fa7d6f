import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { JobState } from "../../src/core/job.ts";
import { specRevision } from "../../src/core/spec.ts";
import { type DesiredJob, type DesiredState, plan, planChanges } from "../../src/jobfiles/plan.ts";
import type { DeclaredJob, JobDeclaration } from "../../src/store/store.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const ROOT = "/srv/jobs";

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

function declared(job: DesiredJob, state: JobState, extra: Partial<DeclaredJob> = {}): DeclaredJob {
  return { id: job.spec.id, source: job.source, revision: job.revision, state, declared: true, ...extra };
}

function desired(jobs: DesiredJob[], extra: Partial<DesiredState> = {}): DesiredState {
  return { root: ROOT, jobs, problems: [], blocked: [], blockedIds: [], ...extra };
}

const nothingExisting = { existing: [] as JobDeclaration[], schedules: [] };

describe("plan", () => {
  test("a new id is created", () => {
    const a = desiredJob("a", "echo a");
    const result = plan(desired([a]), { declared: [], ...nothingExisting });
    expect(result.creates).toEqual([a]);
    expect(planChanges(result)).toEqual({
      creates: [{ spec: a.spec, revision: a.revision, maxRetries: 3, nextRunAt: 0, source: a.source }],
      updates: [],
      removals: [],
    });
  });

  test("the same revision is unchanged in every state", () => {
    const a = desiredJob("a", "echo a");
    for (const state of ["pending", "processing", "completed", "failed", "dead", "canceled"] as const) {
      const result = plan(desired([a]), { declared: [declared(a, state)], ...nothingExisting });
      expect(result.unchanged).toEqual([a]);
      expect(result.creates.length + result.updates.length + result.cancels.length).toBe(0);
    }
  });

  test("a changed revision is an update whatever the state; the store decides what it means", () => {
    const before = desiredJob("a", "echo a");
    const after = desiredJob("a", "echo b");
    for (const state of ["pending", "processing", "completed", "failed", "dead", "canceled"] as const) {
      const result = plan(desired([after]), { declared: [declared(before, state)], ...nothingExisting });
      expect(result.updates).toEqual([{ job: after, actual: declared(before, state), reason: "changed" }]);
    }
  });

  test("a restored file, a moved declaration and a reverted change are updates", () => {
    const a = desiredJob("a", "echo a");
    expect(
      plan(desired([a]), { declared: [declared(a, "canceled", { declared: false })], ...nothingExisting })
        .updates[0]?.reason,
    ).toBe("restored");
    const moved = { ...a, source: `${ROOT}/other.yaml`, file: "other.yaml" };
    expect(
      plan(desired([moved]), { declared: [declared(a, "completed")], ...nothingExisting }).updates[0]?.reason,
    ).toBe("moved");
    const queued = [{ id: "a", source: a.source, nextRevision: "another" }];
    expect(
      plan(desired([a]), { declared: [declared(a, "processing")], existing: queued, schedules: [] })
        .updates[0]?.reason,
    ).toBe("reverted");
  });

  test("a revision already queued behind a running attempt is unchanged", () => {
    const before = desiredJob("a", "echo a");
    const after = desiredJob("a", "echo b");
    const existing = [{ id: "a", source: before.source, nextRevision: after.revision }];
    const result = plan(desired([after]), {
      declared: [declared(before, "processing")],
      existing,
      schedules: [],
    });
    expect(result.unchanged).toEqual([after]);
  });

  test("a removed declaration is canceled; one already removed is not removed again", () => {
    const a = desiredJob("a", "echo a");
    const gone = declared(a, "pending");
    expect(plan(desired([]), { declared: [gone], ...nothingExisting }).cancels).toEqual([
      { actual: gone, file: "a.yaml" },
    ]);
    expect(
      plan(desired([]), { declared: [{ ...gone, declared: false }], ...nothingExisting }).cancels,
    ).toEqual([]);
  });

  test("jobs of blocked files and folders, blocked ids and other folders are never canceled", () => {
    const a = desiredJob("a", "echo a", "broken.yaml");
    const b = desiredJob("b", "echo b", "sub/b.yaml");
    const c = desiredJob("c", "echo c", "moved-away.yaml");
    const elsewhere = { ...declared(desiredJob("d", "echo d"), "pending"), source: "/srv/other-jobs/d.yaml" };
    const state = desired([], { blocked: ["broken.yaml", "sub/"], blockedIds: ["c"] });
    const result = plan(state, {
      declared: [declared(a, "pending"), declared(b, "pending"), declared(c, "pending"), elsewhere],
      ...nothingExisting,
    });
    expect(result.cancels).toEqual([]);
  });

  test("two files declaring one id are both in error, with all their jobs held back", () => {
    const first = desiredJob("same", "echo 1", "one.yaml");
    const second = desiredJob("same", "echo 2", "two.yaml");
    const sibling = desiredJob("sibling", "echo s", "two.yaml");
    const existingSibling = declared(sibling, "pending");
    const result = plan(desired([first, second, sibling]), {
      declared: [existingSibling],
      ...nothingExisting,
    });
    expect(result.creates).toEqual([]);
    expect(result.cancels).toEqual([]);
    expect(result.errors.map((e) => [e.file, e.field])).toEqual([
      ["one.yaml", "id"],
      ["two.yaml", "id"],
    ]);
    expect(result.errors[0]?.message).toContain("two.yaml:1:1");
  });

  test("an id used by an ad hoc job is an error for its file", () => {
    const a = desiredJob("taken", "echo a", "x.yaml");
    const b = desiredJob("free", "echo b", "x.yaml");
    const result = plan(desired([a, b]), {
      declared: [],
      existing: [{ id: "taken", source: null, nextRevision: null }],
      schedules: [],
    });
    expect(result.creates).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ file: "x.yaml", field: "id" });
    expect(result.errors[0]?.message).toContain("enqueued by hand");
  });
});
