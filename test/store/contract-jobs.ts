/** Contract: inserting, reading, counting and claiming jobs. */

import { expect, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import type { Job } from "../../src/core/job.ts";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";

export function jobsContract(withStore: WithStore): void {
  test(
    "insert stores the spec and its derived columns; get returns null for an unknown id",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [newJob("a", { priority: 5, queue: "emails", tags: ["x", "y"], nextRunAt: T0 + 10 })],
        now: T0,
      });
      const job = await store.jobGet({ id: "a" });
      expect(job).toMatchObject({
        id: "a",
        spec: { id: "a", command: "echo a", priority: 5, queue: "emails", tags: ["x", "y"] },
        state: "pending",
        attempts: 0,
        max_retries: 3,
        priority: 5,
        queue: "emails",
        tags: ["x", "y"],
        created_at: T0,
        updated_at: T0,
        next_run_at: T0 + 10,
        started_at: null,
        finished_at: null,
        worker_id: null,
        lease_until: null,
        token: 0,
        source: null,
      });
      expect(typeof job?.revision).toBe("string");
      expect(await store.jobGet({ id: "missing" })).toBeNull();
    }),
  );

  test(
    "insert is all or nothing: a duplicate id throws a UserError naming it and nothing goes in",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
      const attempt = store.jobInsertMany({ jobs: [newJob("c"), newJob("a"), newJob("d")], now: T0 });
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow('"a"');
      expect((await store.jobList({})).map((job) => job.id)).toEqual(["a", "b"]);

      const twice = store.jobInsertMany({ jobs: [newJob("e"), newJob("e")], now: T0 });
      await expect(twice).rejects.toThrow('"e"');
      expect(await store.jobGet({ id: "e" })).toBeNull();
    }),
  );

  test(
    "list keeps insertion order and filters by state, tag and queue, with limit and offset",
    withStore(async ({ store }) => {
      const ids = Array.from({ length: 12 }, (_, i) => `job-${String(11 - i).padStart(2, "0")}`);
      await store.jobInsertMany({
        jobs: ids.map((id, i) =>
          newJob(id, { tags: i % 3 === 0 ? ["nightly"] : ["other"], queue: i % 2 ? "q2" : "default" }),
        ),
        now: T0,
      });
      await store.jobTransition({
        id: ids[4],
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: T0,
      });

      expect((await store.jobList({})).map((job) => job.id)).toEqual(ids);
      expect((await store.jobList({ tag: "nightly" })).map((job) => job.id)).toEqual(
        ids.filter((_, i) => i % 3 === 0),
      );
      expect((await store.jobList({ queue: "q2" })).map((job) => job.id)).toEqual(
        ids.filter((_, i) => i % 2),
      );
      expect((await store.jobList({ state: "canceled" })).map((job) => job.id)).toEqual([ids[4] ?? ""]);
      expect((await store.jobList({ state: "pending", tag: "nightly", queue: "default" })).length).toBe(2);
      expect((await store.jobList({ limit: 3 })).map((job) => job.id)).toEqual(ids.slice(0, 3));
      expect((await store.jobList({ limit: 3, offset: 10 })).map((job) => job.id)).toEqual(ids.slice(10));
      expect(await store.jobList({ tag: "night" })).toEqual([]);
    }),
  );

  test(
    "counts every state and the total",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: ["a", "b", "c", "d"].map((id) => newJob(id)), now: T0 });
      await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 1000 });
      await store.jobTransition({
        id: "d",
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: T0,
      });
      expect(await store.jobCounts()).toEqual({
        pending: 2,
        processing: 1,
        completed: 0,
        failed: 0,
        dead: 0,
        canceled: 1,
        total: 4,
      });
    }),
  );

  test(
    "claims by priority, then next_run_at, then insertion order, and skips jobs not yet due",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [
          newJob("late-low", { nextRunAt: T0 + 5 }),
          newJob("early-low-1", { nextRunAt: T0 + 1 }),
          newJob("early-low-2", { nextRunAt: T0 + 1 }),
          newJob("high", { priority: 10, nextRunAt: T0 + 9 }),
          newJob("future", { priority: 99, nextRunAt: T0 + 1_000_000 }),
          newJob("negative", { priority: -1 }),
        ],
        now: T0,
      });
      const order: string[] = [];
      for (;;) {
        const job = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 100, leaseMs: 1000 });
        if (!job) break;
        order.push(job.id);
      }
      expect(order).toEqual(["high", "early-low-1", "early-low-2", "late-low", "negative"]);
    }),
  );

  test(
    "a claim takes failed jobs once due and honours the queue filter",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a", { queue: "emails" }), newJob("b")], now: T0 });
      expect(
        (await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 10, queues: ["reports"] }))?.id,
      ).toBeUndefined();
      const a = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 10, queues: ["emails"] });
      expect(a?.id).toBe("a");
      if (!a) return;
      await store.jobFail({
        id: "a",
        token: a.token,
        now: T0 + 1,
        state: "failed",
        nextRunAt: T0 + 500,
        result: {
          exitCode: 1,
          signal: null,
          error: "boom",
          stdoutBytes: 0,
          stderrBytes: 0,
          logPath: null,
          outputTail: null,
        },
      });
      expect(
        (await store.jobClaim({ workerId: "w", host: "h", now: T0 + 2, leaseMs: 10, queues: ["emails"] }))
          ?.id,
      ).toBeUndefined();
      const b = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 2, leaseMs: 10, queues: null });
      expect(b?.id).toBe("b");
      const again = await store.jobClaim({
        workerId: "w",
        host: "h",
        now: T0 + 500,
        leaseMs: 10,
        queues: null,
      });
      expect(again).toMatchObject({ id: "a", attempts: 2, token: 2, state: "processing" });
    }),
  );

  test(
    "concurrent claimers on separate connections never get the same job",
    withStore(async ({ store, another }) => {
      const total = 200;
      await store.jobInsertMany({
        jobs: Array.from({ length: total }, (_, i) => newJob(`j${i}`)),
        now: T0,
      });
      const claimers = [store, await another(), await another(), await another()];
      const claimed: Job[][] = await Promise.all(
        claimers.map(async (claimer, n) => {
          const mine: Job[] = [];
          for (;;) {
            const job = await claimer.jobClaim({
              workerId: `w${n}`,
              host: `h${n}`,
              now: T0,
              leaseMs: 60_000,
            });
            if (!job) return mine;
            mine.push(job);
          }
        }),
      );
      const ids = claimed.flat().map((job) => job.id);
      expect(ids.length).toBe(total);
      expect(new Set(ids).size).toBe(total);
      expect((await store.jobCounts()).processing).toBe(total);
      // More than one claimer got work, or the test proved nothing about concurrency.
      expect(claimed.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);
    }),
  );
}
