/** Contract: applying jobfile reconciliations, the table in DESIGN.md's "Jobfiles" section. */

import { expect, test } from "bun:test";
import type { NewJob, Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

/** A declared job; `version` changes the command and so the revision. */
function declared(id: string, version: number, source = "jobs/a.yaml"): NewJob {
  return {
    ...newJob(id, { source }),
    spec: { id, command: `echo ${id} v${version}` },
    revision: `${id}@${version}`,
  };
}

const none = { creates: [], updates: [], removals: [] };

async function runToEnd(store: Store, id: string, now: number, exitCode = 0): Promise<void> {
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
      const first = await store.jobfileApply({ changes: { ...none, creates: [declared("a", 1)] }, now: T0 });
      expect(first).toEqual({
        created: ["a"],
        updated: [],
        deferred: [],
        alreadyCompleted: [],
        canceled: [],
      });
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        source: "jobs/a.yaml",
        revision: "a@1",
        state: "pending",
      });
      expect(await store.declaredList()).toEqual([
        { id: "a", source: "jobs/a.yaml", revision: "a@1", state: "pending", declared: true },
      ]);
      await runToEnd(store, "a", T0 + 1);
      const again = await store.jobfileApply({
        changes: { ...none, updates: [declared("a", 1)] },
        now: T0 + 2,
      });
      expect(again).toEqual({ created: [], updated: [], deferred: [], alreadyCompleted: [], canceled: [] });
      expect((await store.jobGet({ id: "a" }))?.state).toBe("completed");
    }),
  );

  test(
    "a new revision replaces a job that has not started and resets its attempts",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, creates: [declared("a", 1)] }, now: T0 });
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
        changes: { ...none, updates: [declared("a", 2)] },
        now: T0 + 5,
      });
      expect(result.updated).toEqual(["a"]);
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
      await store.jobfileApply({ changes: { ...none, creates: [declared("a", 1)] }, now: T0 });
      const job = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      const result = await store.jobfileApply({
        changes: { ...none, updates: [declared("a", 2)] },
        now: T0 + 1,
      });
      expect(result.deferred).toEqual(["a"]);
      expect(await store.jobDeclarations({ ids: ["a", "nope"] })).toEqual([
        { id: "a", source: "jobs/a.yaml", nextRevision: "a@2" },
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
        changes: { ...none, updates: [declared("a", 1)] },
        now: T0 + 4,
      });
      expect(back.alreadyCompleted).toEqual(["a"]);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("completed");
    }),
  );

  test(
    "a finished job gets its new revision queued unless that revision already completed",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, creates: [declared("a", 1), declared("b", 1)] },
        now: T0,
      });
      await runToEnd(store, "a", T0 + 1);
      await runToEnd(store, "b", T0 + 1, 2);
      const v2 = await store.jobfileApply({
        changes: { ...none, updates: [declared("a", 2), declared("b", 2)] },
        now: T0 + 2,
      });
      expect(v2.updated).toEqual(["a", "b"]);
      await runToEnd(store, "a", T0 + 3);
      const back = await store.jobfileApply({
        changes: { ...none, updates: [declared("a", 1)] },
        now: T0 + 4,
      });
      expect(back).toMatchObject({ updated: [], alreadyCompleted: ["a"] });
      expect(await store.jobGet({ id: "a" })).toMatchObject({ state: "completed", revision: "a@1" });
    }),
  );

  test(
    "removing a file cancels its jobs that have not started; running and finished ones keep going",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, creates: ["p", "r", "c"].map((id) => declared(id, 1)) },
        now: T0,
      });
      await runToEnd(store, "p", T0);
      await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      const removed = await store.jobfileApply({
        changes: { ...none, removals: ["p", "r", "c", "ghost"] },
        now: T0 + 1,
      });
      expect(removed.canceled).toEqual(["c"]);
      const listed = (await store.declaredList()).map((d) => [d.id, d.state, d.declared]);
      expect(listed.sort()).toEqual([
        ["c", "canceled", false],
        ["p", "completed", false],
        ["r", "processing", false],
      ]);
      expect((await store.jobGet({ id: "c" }))?.last_error).toBe("its jobfile was removed");
      // The file comes back unchanged: the canceled job is declared and queued again.
      const back = await store.jobfileApply({
        changes: { ...none, updates: [declared("c", 1)] },
        now: T0 + 2,
      });
      expect(back.updated).toEqual(["c"]);
      expect((await store.jobGet({ id: "c" }))?.state).toBe("pending");
    }),
  );

  test(
    "an ad hoc job's id is never taken over by a jobfile",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("mine")], now: T0 });
      const result = await store.jobfileApply({
        changes: { ...none, creates: [declared("mine", 1)] },
        now: T0 + 1,
      });
      expect(result).toEqual({ created: [], updated: [], deferred: [], alreadyCompleted: [], canceled: [] });
      expect(await store.jobGet({ id: "mine" })).toMatchObject({
        source: null,
        spec: { command: "echo mine" },
      });
      expect(await store.declaredList()).toEqual([]);
      expect(await store.jobDeclarations({ ids: ["mine"] })).toEqual([
        { id: "mine", source: null, nextRevision: null },
      ]);
    }),
  );

  test(
    "two appliers racing on one folder create each job exactly once",
    withStore(async ({ store, another }) => {
      const others = [await another(), await another()];
      const jobs = Array.from({ length: 30 }, (_, i) => declared(`j${i}`, 1));
      const results = await Promise.all(
        [store, ...others].map((s) => s.jobfileApply({ changes: { ...none, creates: jobs }, now: T0 })),
      );
      expect(results.flatMap((r) => r.created).sort()).toEqual(jobs.map((j) => j.spec.id).sort());
      expect((await store.jobCounts()).total).toBe(30);
    }),
  );
}
