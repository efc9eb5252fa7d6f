/**
 * Contract: dependencies, named queues and purge (schedules are in contract-schedules.ts).
 * The concurrent cases matter most on PostgreSQL, where writers run side by side instead of
 * one at a time.
 */

import { expect, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import type { Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

async function claimAll(store: Store, now = T0, workerId = "w"): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const job = await store.jobClaim({ workerId, host: "h", now, leaseMs: 60_000 });
    if (!job) return ids;
    ids.push(job.id);
  }
}

async function finish(store: Store, id: string, outcome: "completed" | "dead", now = T0 + 1): Promise<void> {
  const job = await store.jobGet({ id });
  if (!job) throw new Error(`no job ${id}`);
  const token = job.token;
  if (outcome === "completed") await store.jobComplete({ id, token, now, result: runResult(0) });
  else await store.jobFail({ id, token, now, state: "dead", nextRunAt: now, result: runResult(1) });
}

export function flowContract(withStore: WithStore): void {
  test(
    "a job waits for its dependencies; a dead one cancels it, and retrying that one re-arms it",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [
          newJob("deploy", { after: ["test"], priority: 9 }),
          newJob("test", { after: ["build"] }),
          newJob("build"),
          newJob("lint"),
        ],
        now: T0,
      });
      expect(await claimAll(store)).toEqual(["build", "lint"]);
      await finish(store, "build", "completed");
      expect(await claimAll(store, T0 + 2)).toEqual(["test"]);
      await finish(store, "test", "dead", T0 + 3);
      expect(await store.jobGet({ id: "deploy" })).toMatchObject({
        state: "canceled",
        last_error: "dependency test ended dead",
      });
      await store.jobTransition({
        id: "test",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: T0 + 4,
      });
      expect((await store.jobGet({ id: "deploy" }))?.state).toBe("pending");
      expect(await claimAll(store, T0 + 5)).toEqual(["test"]);
      await finish(store, "test", "completed", T0 + 6);
      expect(await claimAll(store, T0 + 7)).toEqual(["deploy"]);
    }),
  );

  test(
    "a job enqueued after its dependency died is canceled at once; retrying the dependency re-arms it",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("base")], now: T0 });
      expect(await claimAll(store)).toEqual(["base"]);
      await finish(store, "base", "dead");
      await store.jobInsertMany({ jobs: [newJob("late", { after: ["base"] })], now: T0 + 2 });
      expect(await store.jobGet({ id: "late" })).toMatchObject({
        state: "canceled",
        last_error: "dependency base ended dead",
      });
      await store.jobTransition({
        id: "base",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: T0 + 3,
      });
      expect((await store.jobGet({ id: "late" }))?.state).toBe("pending");
      expect(await claimAll(store, T0 + 4)).toEqual(["base"]);
    }),
  );

  test(
    "a dependency that is not in the queue is refused, and nothing is inserted",
    withStore(async ({ store }) => {
      const attempt = store.jobInsertMany({ jobs: [newJob("a"), newJob("b", { after: ["nope"] })], now: T0 });
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow('"nope"');
      expect((await store.jobCounts()).total).toBe(0);
    }),
  );

  test(
    "two dependencies completing at once, on separate connections, release the job that waits for both",
    withStore(async ({ store, another }) => {
      const pairs = 25;
      const jobs = Array.from({ length: pairs }, (_, i) => [
        newJob(`a${i}`),
        newJob(`b${i}`),
        newJob(`merge${i}`, { after: [`a${i}`, `b${i}`] }),
      ]).flat();
      await store.jobInsertMany({ jobs, now: T0 });
      expect((await claimAll(store)).length).toBe(pairs * 2);
      const other = await another();
      await Promise.all([
        (async () => {
          for (let i = 0; i < pairs; i++) await finish(store, `a${i}`, "completed");
        })(),
        (async () => {
          for (let i = 0; i < pairs; i++) await finish(other, `b${i}`, "completed");
        })(),
      ]);
      expect((await claimAll(store, T0 + 2)).sort()).toEqual(
        Array.from({ length: pairs }, (_, i) => `merge${i}`).sort(),
      );
    }),
  );

  test(
    "a queue limit holds under concurrent claimers, a paused queue gives nothing, other queues run on",
    withStore(async ({ store, another }) => {
      await store.queueSet({ name: "narrow", concurrency: 2 });
      await store.queueSet({ name: "stopped", paused: true });
      await store.jobInsertMany({
        jobs: [
          ...Array.from({ length: 12 }, (_, i) => newJob(`n${i}`, { queue: "narrow" })),
          newJob("s1", { queue: "stopped" }),
          newJob("free1"),
          newJob("free2"),
        ],
        now: T0,
      });
      const claimers = [store, await another(), await another(), await another()];
      const claimed = (
        await Promise.all(claimers.map((claimer, n) => claimAll(claimer, T0, `w${n}`)))
      ).flat();
      expect(claimed.filter((id) => id.startsWith("n")).length).toBe(2);
      expect(claimed.filter((id) => !id.startsWith("n")).sort()).toEqual(["free1", "free2"]);

      await finish(store, claimed.find((id) => id.startsWith("n")) ?? "", "completed");
      expect((await claimAll(store, T0 + 2)).length).toBe(1);
      await store.queueSet({ name: "stopped", paused: false });
      expect(await claimAll(store, T0 + 3)).toEqual(["s1"]);
      const queues = await store.queueList();
      expect(queues.map((q) => [q.name, q.concurrency, q.paused, q.counts.processing])).toEqual([
        ["default", null, false, 2],
        ["narrow", 2, false, 2],
        ["stopped", null, false, 1],
      ]);
    }),
  );

  test(
    "purge deletes finished, undeclared jobs older than the cutoff, with their attempts",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [
          newJob("old"),
          newJob("declared", { source: "jobs/d.yaml" }),
          newJob("recent"),
          newJob("waiting"),
        ],
        now: T0,
      });
      await claimAll(store);
      await finish(store, "old", "completed", T0 + 10);
      await finish(store, "declared", "completed", T0 + 10);
      await finish(store, "recent", "dead", T0 + 500);
      await store.jobRelease({ id: "waiting", token: 1, now: T0 + 10, reason: "stop" });
      const preview = await store.jobPurge({
        states: ["completed", "dead", "pending"],
        finishedBefore: T0 + 100,
        dryRun: true,
      });
      expect(preview).toEqual(["old"]);
      expect(await store.jobGet({ id: "old" })).not.toBeNull();
      expect(
        await store.jobPurge({ states: ["completed", "dead"], finishedBefore: T0 + 100, dryRun: false }),
      ).toEqual(["old"]);
      expect(await store.jobGet({ id: "old" })).toBeNull();
      expect(await store.attemptList({ jobId: "old" })).toEqual([]);
      expect((await store.jobList({})).map((job) => job.id)).toEqual(["declared", "recent", "waiting"]);
    }),
  );
}
