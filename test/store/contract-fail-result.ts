/**
 * Contract: jobFail answers with the state it wrote. A job's jobfile can change that under
 * a running attempt, and workers print this answer, so it must be what the row says.
 */

import { expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";
import { declared, done, none } from "./contract-jobfiles.ts";

async function declareAndClaim(store: Store) {
  await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
  const job = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 1000 });
  expect(job?.id).toBe("a");
  return job?.token ?? 0;
}

const removeA = { ...none, removals: [{ id: "a", owner: "jobs" }] };

/** Ends the claimed run of "a" as `state` asks, at T0 + 3 with exit code 1. */
function failA(store: Store, token: number, state: "failed" | "dead") {
  return store.jobFail({
    id: "a",
    token,
    now: T0 + 3,
    state,
    nextRunAt: state === "failed" ? T0 + 1000 : T0 + 3,
    result: runResult(1),
  });
}

export function failResultContract(withStore: WithStore): void {
  test(
    "a failed run of a job whose jobfile was removed while it ran answers canceled, not failed",
    withStore(async ({ store }) => {
      const token = await declareAndClaim(store);
      await store.jobfileApply({ changes: removeA, now: T0 + 2 });
      const written = await failA(store, token, "failed");
      expect(written).toEqual({ state: "canceled", because: "jobfile-removed", nextRunAt: null });
      expect(await store.jobGet({ id: "a" })).toMatchObject({ state: "canceled", finished_at: T0 + 3 });
    }),
  );

  test(
    "a dead run of a job whose jobfile was removed while it ran stays dead",
    withStore(async ({ store }) => {
      const token = await declareAndClaim(store);
      await store.jobfileApply({ changes: removeA, now: T0 + 2 });
      const written = await failA(store, token, "dead");
      expect(written).toEqual({ state: "dead", because: null, nextRunAt: null });
      expect((await store.jobGet({ id: "a" }))?.state).toBe("dead");
    }),
  );

  test(
    "a failed run of a job whose jobfile changed while it ran answers pending, as the new revision",
    withStore(async ({ store }) => {
      const token = await declareAndClaim(store);
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 2 });
      const written = await failA(store, token, "failed");
      expect(written).toEqual({ state: "pending", because: "jobfile-changed", nextRunAt: T0 + 3 });
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "pending",
        revision: "a@2",
        attempts: 0,
        next_run_at: T0 + 3,
      });
    }),
  );

  test(
    "a dead run of a job whose jobfile changed while it ran keeps what waits on it waiting",
    withStore(async ({ store }) => {
      const b = { ...declared("b", 1, "jobs/b.yaml"), spec: { id: "b", command: "echo b", after: ["a"] } };
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1), b] }, now: T0 });
      const job = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 1000 });
      expect(job?.id).toBe("a");
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 2 });
      const written = await failA(store, job?.token ?? 0, "dead");
      expect(written?.state).toBe("pending");
      expect((await store.jobGet({ id: "b" }))?.state).toBe("pending");
    }),
  );

  test(
    "a job whose file was removed while it ran is canceled, not queued again, when its run is handed back",
    withStore(async ({ store }) => {
      // r runs; s was claimed ahead and never started; w waits on r.
      const waiting = { ...declared("w", 1), spec: { id: "w", command: "echo w", after: ["r"] } };
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("r", 1), declared("s", 1), waiting] },
        now: T0,
      });
      const r = await store.jobClaim({ workerId: "w1", host: "h", now: T0, leaseMs: 1000 });
      const s = await store.jobClaim({ workerId: "w1", host: "h", now: T0, leaseMs: 1000 });
      expect([r?.id, s?.id]).toEqual(["r", "s"]);
      const removed = await store.jobfileApply({
        changes: { ...none, removals: ["r", "s"].map((id) => ({ id, owner: "jobs" })) },
        now: T0 + 1,
      });
      expect(done(removed)).toEqual(["r forget", "s forget"]);
      // `worker stop --timeout` stops r; s goes back unstarted.
      expect(
        await store.jobRelease({
          id: "r",
          token: r?.token ?? 0,
          now: T0 + 2,
          reason: "stopped by worker stop",
        }),
      ).toBe(true);
      expect(
        await store.jobRelease({
          id: "s",
          token: s?.token ?? 0,
          now: T0 + 2,
          reason: "not started",
          unstarted: true,
        }),
      ).toBe(true);
      for (const id of ["r", "s"]) {
        expect(await store.jobGet({ id })).toMatchObject({
          state: "canceled",
          last_error: "its jobfile was removed",
        });
      }
      expect((await store.jobGet({ id: "w" }))?.state).toBe("canceled");
      expect(await store.jobClaim({ workerId: "w1", host: "h", now: T0 + 3, leaseMs: 1000 })).toBeNull();
    }),
  );

  test(
    "an occurrence of a jobfile's schedule is retried and handed back as any job, not taken for a removed jobfile's",
    withStore(async ({ store }) => {
      // Occurrences carry their schedule's jobfile as source, and are no declaration of it.
      const source = "jobs/nightly.yaml";
      await store.scheduleUpsert({
        id: "n",
        spec: { id: "n", command: "echo n" },
        revision: "r",
        source,
        nextAt: T0,
        now: T0,
      });
      await store.scheduleFire({
        id: "n",
        expectedNextAt: T0,
        nextAt: T0 + 10,
        occurrences: ["n@1", "n@2"].map((id) => newJob(id, { source })),
        overlap: "allow",
        now: T0,
      });
      const first = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 1000 });
      const failed = await store.jobFail({
        id: first?.id ?? "",
        token: first?.token ?? 0,
        now: T0 + 2,
        state: "failed",
        nextRunAt: T0 + 100,
        result: runResult(1),
      });
      expect(failed?.state).toBe("failed");
      const second = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 1000 });
      expect(
        await store.jobRelease({
          id: second?.id ?? "",
          token: second?.token ?? 0,
          now: T0 + 4,
          reason: "stopped",
        }),
      ).toBe(true);
      expect((await store.jobGet({ id: first?.id ?? "" }))?.state).toBe("failed");
      expect((await store.jobGet({ id: second?.id ?? "" }))?.state).toBe("pending");
    }),
  );

  test(
    "a run handed back takes its progress with it; one claimed ahead and handed back unstarted leaves the job's as it was",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("p")], now: T0 });
      const report = (token: number, pct: number) =>
        store.jobProgressSave({ updates: [{ id: "p", token, pct, message: `at ${pct}` }] });
      const started = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 1000 });
      expect(await report(started?.token ?? 0, 33)).toBe(1);
      await store.jobRelease({ id: "p", token: started?.token ?? 0, now: T0 + 2, reason: "stopped" });
      expect(await store.jobGet({ id: "p" })).toMatchObject({
        state: "pending",
        attempts: 0,
        progress_pct: null,
        progress_message: null,
      });
      const failing = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 1000 });
      await report(failing?.token ?? 0, 50);
      const retry = {
        id: "p",
        token: failing?.token ?? 0,
        now: T0 + 4,
        state: "failed" as const,
        nextRunAt: T0 + 5,
      };
      await store.jobFail({ ...retry, result: runResult(1) });
      const ahead = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 5, leaseMs: 1000 });
      await store.jobRelease({
        id: "p",
        token: ahead?.token ?? 0,
        now: T0 + 6,
        reason: "not started",
        unstarted: true,
      });
      expect(await store.jobGet({ id: "p" })).toMatchObject({ state: "failed", progress_pct: 50 });
    }),
  );
}
