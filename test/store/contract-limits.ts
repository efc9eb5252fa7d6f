/** Contract: queues' default resource limits, and the note of what limited an attempt. */

import { expect, test } from "bun:test";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";

export function limitsContract(withStore: WithStore): void {
  test(
    "queue limits are set, replaced, cleared and seen by another connection, beside the queue's other settings",
    withStore(async ({ store, another }) => {
      expect(await store.queueLimitsList()).toEqual({});
      await store.queueSet({ name: "batch", concurrency: 2 });
      await store.queueLimitsSet({ name: "batch", limits: { memory: 256 * 1024 ** 2, cpu_time: 600 } });
      await store.queueLimitsSet({ name: "new", limits: { processes: 100 } });
      expect(await (await another()).queueLimitsList()).toEqual({
        batch: { memory: 256 * 1024 ** 2, cpu_time: 600 },
        new: { processes: 100 },
      });
      expect((await store.queueList()).find((queue) => queue.name === "batch")?.concurrency).toBe(2);

      await store.queueLimitsSet({ name: "batch", limits: { processes: 5 } });
      await store.queueLimitsSet({ name: "new", limits: null });
      expect(await store.queueLimitsList()).toEqual({ batch: { processes: 5 } });
      expect((await store.queueList()).map((queue) => queue.name)).toContain("new");
    }),
  );

  test(
    "an attempt carries the note of its limits; other attempts have none",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
      const a = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      const b = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      if (!a || !b) throw new Error("both jobs should be claimable");
      await store.attemptLimitsSet({ jobId: a.id, token: a.token, limits: "memory 64 MB (cgroup v2)" });
      expect((await store.attemptList({ jobId: a.id }))[0]?.limits).toBe("memory 64 MB (cgroup v2)");
      expect((await store.attemptList({ jobId: b.id }))[0]?.limits ?? null).toBeNull();
      // A stale token notes nothing: the note belongs to one attempt.
      await store.attemptLimitsSet({ jobId: b.id, token: b.token + 1, limits: "processes 1 (rlimit)" });
      expect((await store.attemptList({ jobId: b.id }))[0]?.limits ?? null).toBeNull();
    }),
  );
}
