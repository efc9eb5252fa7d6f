/** Contract: applying jobfile reconciliations, the table in DESIGN.md's "Jobfiles" section. */

import { expect, test } from "bun:test";
import type { DeclaredChange, JobfileApplyResult, Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

const FOLDER = "jobs";

/** A declared job of the folder `jobs`; `version` changes the command and so the revision. */
export function declared(
  id: string,
  version: number,
  source = "jobs/a.yaml",
  owner = FOLDER,
): DeclaredChange {
  return {
    ...newJob(id, { source }),
    spec: { id, command: `echo ${id} v${version}` },
    revision: `${id}@${version}`,
    source,
    owner,
    adoptFrom: null,
  };
}

export const none = { declarations: [], removals: [] };

/** The ids of every action that did something, as "id action". */
export function done(result: JobfileApplyResult): string[] {
  return Object.entries(result)
    .filter(([action]) => action !== "rearmed" && action !== "canceledDependents")
    .flatMap(([action, ids]) => ids.map((id) => `${id} ${action}`))
    .sort();
}

function removals(...ids: string[]) {
  return ids.map((id) => ({ id, owner: FOLDER }));
}

export async function runToEnd(store: Store, id: string, now: number, exitCode = 0): Promise<void> {
  const job = await store.jobClaim({ workerId: "w", host: "h", now, leaseMs: 1000 });
  expect(job?.id).toBe(id);
  if (!job) return;
  if (exitCode === 0) await store.jobComplete({ id, token: job.token, now, result: runResult(0) });
  else
    await store.jobFail({
      id,
      token: job.token,
      now,
      state: "dead",
      nextRunAt: now,
      result: runResult(exitCode),
    });
}

export function jobfileContract(withStore: WithStore): void {
  test(
    "new ids are created; the same revision again changes nothing, whatever the state",
    withStore(async ({ store }) => {
      const first = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0,
      });
      expect(done(first)).toEqual(["a create"]);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        source: "jobs/a.yaml",
        revision: "a@1",
        state: "pending",
      });
      expect(await store.declaredList()).toEqual([
        { id: "a", source: "jobs/a.yaml", revision: "a@1", state: "pending", declared: true, owner: FOLDER },
      ]);
      await runToEnd(store, "a", T0 + 1);
      const again = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 2,
      });
      expect(done(again)).toEqual([]);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("completed");
    }),
  );

  test(
    "a new revision replaces a job that has not started and resets its attempts",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      const job = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 10 });
      await store.jobFail({
        id: "a",
        token: job?.token ?? 0,
        now: T0,
        state: "failed",
        nextRunAt: T0 + 999,
        result: runResult(1),
      });
      const result = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 2)] },
        now: T0 + 5,
      });
      expect(result.replace).toEqual(["a"]);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "pending",
        attempts: 0,
        revision: "a@2",
        spec: { command: "echo a v2" },
        last_error: null,
        next_run_at: T0,
      });
    }),
  );

  test(
    "a new revision of a running job is deferred, then queued fresh when the run ends",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      const job = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      const result = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 2)] },
        now: T0 + 1,
      });
      expect(result.defer).toEqual(["a"]);
      expect(await store.jobDeclarations({ ids: ["a", "nope"] })).toMatchObject([
        { id: "a", source: "jobs/a.yaml", nextRevision: "a@2", owner: FOLDER, state: "processing" },
      ]);
      expect((await store.jobGet({ id: "a" }))?.revision).toBe("a@1");
      await store.jobComplete({ id: "a", token: job?.token ?? 0, now: T0 + 2, result: runResult(0) });
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "pending",
        attempts: 0,
        revision: "a@2",
      });
      await runToEnd(store, "a", T0 + 3);
      // a@1 completed before a@2 did; going back to it is a revision already done.
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 4,
      });
      expect(back.showCompleted).toEqual(["a"]);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("completed");
    }),
  );

  test(
    "a finished job gets its new revision queued unless that revision already completed",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1), declared("b", 1)] },
        now: T0,
      });
      await runToEnd(store, "a", T0 + 1);
      await runToEnd(store, "b", T0 + 1, 2);
      const v2 = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 2), declared("b", 2)] },
        now: T0 + 2,
      });
      expect(v2.replace).toEqual(["a", "b"]);
      await runToEnd(store, "a", T0 + 3);
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 4,
      });
      expect(done(back)).toEqual(["a showCompleted"]);
      expect(await store.jobGet({ id: "a" })).toMatchObject({ state: "completed", revision: "a@1" });
    }),
  );

  test(
    "removing a file cancels its jobs that have not started; running and finished ones keep going",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, declarations: ["p", "r", "c"].map((id) => declared(id, 1)) },
        now: T0,
      });
      await runToEnd(store, "p", T0);
      await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      const removed = await store.jobfileApply({
        changes: { ...none, removals: removals("p", "r", "c", "ghost") },
        now: T0 + 1,
      });
      expect(done(removed)).toEqual(["c cancel", "p forget", "r forget"]);
      const listed = (await store.declaredList()).map((d) => [d.id, d.state, d.declared]);
      expect(listed.sort()).toEqual([
        ["c", "canceled", false],
        ["p", "completed", false],
        ["r", "processing", false],
      ]);
      expect((await store.jobGet({ id: "c" }))?.last_error).toBe("its jobfile was removed");
      // The file comes back unchanged: the canceled job is declared and queued again.
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("c", 1)] },
        now: T0 + 2,
      });
      expect(back.replace).toEqual(["c"]);
      expect((await store.jobGet({ id: "c" }))?.state).toBe("pending");
    }),
  );

  test(
    "an ad hoc job's id is never taken over by a jobfile",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("mine")], now: T0 });
      const result = await store.jobfileApply({
        changes: { ...none, declarations: [declared("mine", 1)] },
        now: T0 + 1,
      });
      expect(done(result)).toEqual([]);
      expect(await store.jobGet({ id: "mine" })).toMatchObject({
        source: null,
        spec: { command: "echo mine" },
      });
      expect(await store.declaredList()).toEqual([]);
      expect(await store.jobDeclarations({ ids: ["mine"] })).toMatchObject([
        { id: "mine", source: null, nextRevision: null, owner: null, declared: false },
      ]);
    }),
  );

  test(
    "facts of every declared job come in queue order, with the ad hoc ids asked for",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("by-hand"), newJob("other-by-hand")], now: T0 });
      const declarations = [
        declared("z", 1),
        declared("b", 1, "jobs/b.yaml"),
        declared("m", 1, "x/m.yaml", "x"),
      ];
      await store.jobfileApply({ changes: { ...none, declarations }, now: T0 + 1 });
      await store.jobfileApply({ changes: { ...none, removals: removals("b") }, now: T0 + 2 });
      const facts = await store.jobDeclarations({ ids: ["by-hand", "nope"], everyDeclared: true });
      expect(facts.map((row) => [row.id, row.source, row.declared])).toEqual([
        ["by-hand", null, false],
        ["z", "jobs/a.yaml", true],
        ["b", "jobs/b.yaml", false],
        ["m", "x/m.yaml", true],
      ]);
      // Without it, only the ids asked for.
      expect((await store.jobDeclarations({ ids: ["by-hand", "z"] })).map((row) => row.id).sort()).toEqual([
        "by-hand",
        "z",
      ]);
      expect(await store.jobDeclarations({ ids: [] })).toEqual([]);
      expect((await store.jobDeclarations({ ids: [], everyDeclared: true })).map((row) => row.id)).toEqual([
        "z",
        "b",
        "m",
      ]);
    }),
  );

  test(
    "two appliers racing on one folder create each job exactly once",
    withStore(async ({ store, another }) => {
      const others = [await another(), await another()];
      const jobs = Array.from({ length: 30 }, (_, i) => declared(`j${i}`, 1));
      const results = await Promise.all(
        [store, ...others].map((s) => s.jobfileApply({ changes: { ...none, declarations: jobs }, now: T0 })),
      );
      expect(results.flatMap((r) => r.create).sort()).toEqual(jobs.map((j) => j.spec.id).sort());
      expect((await store.jobCounts()).total).toBe(30);
    }),
  );

  for (const b of ["pending", "failed", "processing"] as const) {
    test(
      `A → B → A with B ${b}: the completed revision A never runs again`,
      withStore(async ({ store }) => {
        await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
        await runToEnd(store, "a", T0 + 1);
        await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 2 });
        const running =
          b === "pending"
            ? null
            : await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 1000 });
        if (b === "failed") {
          const failed = { id: "a", token: running?.token ?? 0, now: T0 + 4, state: "failed" as const };
          await store.jobFail({ ...failed, nextRunAt: T0 + 5, result: runResult(1) });
        }
        const back = await store.jobfileApply({
          changes: { ...none, declarations: [declared("a", 1)] },
          now: T0 + 6,
        });
        if (b === "processing") {
          // The running attempt of B finishes; nothing is queued behind it, and the apply says so.
          expect(done(back)).toEqual(["a skipCompleted"]);
          expect((await store.jobGet({ id: "a" }))?.state).toBe("processing");
          // Once it ends the job shows A again, with no sync needed, and a sync has nothing to do.
          await store.jobComplete({ id: "a", token: running?.token ?? 0, now: T0 + 7, result: runResult(0) });
          const after = await store.jobfileApply({
            changes: { ...none, declarations: [declared("a", 1)] },
            now: T0 + 8,
          });
          expect(done(after)).toEqual([]);
        } else expect(done(back)).toEqual(["a showCompleted"]);
        expect(await store.jobGet({ id: "a" })).toMatchObject({
          state: "completed",
          revision: "a@1",
          finished_at: T0 + 1,
          attempts: 1,
        });
        expect(
          await store.jobClaim({ workerId: "w", host: "h", now: T0 + 99_999, leaseMs: 1000 }),
        ).toBeNull();
        const [facts] = await store.jobDeclarations({ ids: ["a"] });
        expect(facts?.completed.find((entry) => entry.revision === "a@1")).toEqual({
          revision: "a@1",
          at: T0 + 1,
        });
      }),
    );
  }

  test(
    "going back while B runs with C queued behind it drops C; A is not queued",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      await runToEnd(store, "a", T0 + 1);
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 2 });
      const running = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 1000 });
      expect(
        done(
          await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 3)] }, now: T0 + 4 }),
        ),
      ).toEqual(["a defer"]);
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 5,
      });
      expect(done(back)).toEqual(["a skipCompleted"]);
      await store.jobComplete({ id: "a", token: running?.token ?? 0, now: T0 + 6, result: runResult(0) });
      expect(await store.jobGet({ id: "a" })).toMatchObject({ state: "completed", revision: "a@1" });
      expect((await store.attemptList({ jobId: "a" })).map((attempt) => attempt.revision)).toEqual([
        "a@1",
        "a@2",
      ]);
    }),
  );

  test(
    "another folder's id is never written, unless the plan adopts it from exactly that folder",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      const theirs = declared("a", 2, "repo-b/jobs/a.yaml", "repo-b/jobs");
      expect(
        done(await store.jobfileApply({ changes: { ...none, declarations: [theirs] }, now: T0 + 1 })),
      ).toEqual([]);
      const wrongFolder = { ...theirs, adoptFrom: "elsewhere" };
      expect(
        done(await store.jobfileApply({ changes: { ...none, declarations: [wrongFolder] }, now: T0 + 2 })),
      ).toEqual([]);
      expect(
        done(
          await store.jobfileApply({
            changes: { ...none, removals: [{ id: "a", owner: "repo-b/jobs" }] },
            now: T0 + 3,
          }),
        ),
      ).toEqual([]);
      expect(await store.jobGet({ id: "a" })).toMatchObject({ revision: "a@1", source: "jobs/a.yaml" });
      const adopted = { ...theirs, adoptFrom: FOLDER };
      expect(
        done(await store.jobfileApply({ changes: { ...none, declarations: [adopted] }, now: T0 + 4 })),
      ).toEqual(["a replace"]);
      expect(await store.declaredList()).toMatchObject([{ id: "a", revision: "a@2", owner: "repo-b/jobs" }]);
    }),
  );

  test(
    "a declaration that comes back re-arms the dependents its removal canceled",
    withStore(async ({ store }) => {
      const b = { ...declared("b", 1, "jobs/b.yaml"), spec: { id: "b", command: "echo b", after: ["a"] } };
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1), b] }, now: T0 });
      expect(await store.jobDependentEdges({ ids: ["a"] })).toEqual([
        { id: "b", dependsOn: "a", state: "pending", blocked: true },
      ]);
      const removed = await store.jobfileApply({
        changes: { ...none, removals: removals("a") },
        now: T0 + 1,
      });
      expect(done(removed)).toEqual(["a cancel"]);
      expect(removed.canceledDependents).toEqual(["b"]);
      expect((await store.jobGet({ id: "b" }))?.state).toBe("canceled");
      expect(await store.jobDependentEdges({ ids: ["a"] })).toEqual([
        { id: "b", dependsOn: "a", state: "canceled", blocked: true },
      ]);
      const [facts] = await store.jobDeclarations({ ids: ["a"] });
      expect(facts?.canceledDependents).toEqual(["b"]);
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 2,
      });
      expect(done(back)).toEqual(["a replace"]);
      expect(back.rearmed).toEqual(["b"]);
      expect((await store.jobGet({ id: "b" }))?.state).toBe("pending");
      await runToEnd(store, "a", T0 + 3);
      await runToEnd(store, "b", T0 + 4);
    }),
  );
}
