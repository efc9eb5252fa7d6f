/** Contract: `list`'s page, newest first, with how many jobs match in all. */

import { expect, test } from "bun:test";
import { normalizeSpec } from "../../src/core/spec.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

export function jobPageContract(withStore: WithStore): void {
  test(
    "jobPage: newest first, a limit, the total that matched, and filters that combine",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [
          newJob("a", { tags: ["x"] }),
          newJob("b", { queue: "emails" }),
          newJob("c", { queue: "emails", tags: ["x"] }),
          newJob("d"),
        ],
        now: T0,
      });
      const claimed = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 60_000 });
      expect(claimed?.id).toBe("a");
      await store.jobFail({
        id: "a",
        token: claimed?.token ?? 0,
        now: T0 + 2,
        state: "dead",
        nextRunAt: T0 + 2,
        result: runResult(1),
      });
      const ids = async (params: Parameters<typeof store.jobPage>[0]) => {
        const { jobs, total } = await store.jobPage(params);
        return { ids: jobs.map((job) => job.id), total };
      };
      expect(await ids({ limit: null })).toEqual({ ids: ["d", "c", "b", "a"], total: 4 });
      expect(await ids({ limit: 2 })).toEqual({ ids: ["d", "c"], total: 4 });
      expect(await ids({ limit: 3, order: "oldest" })).toEqual({ ids: ["a", "b", "c"], total: 4 });
      expect(await ids({ states: ["dead", "pending"], limit: 10 })).toEqual({
        ids: ["d", "c", "b", "a"],
        total: 4,
      });
      expect(await ids({ states: ["dead"], limit: 10 })).toEqual({ ids: ["a"], total: 1 });
      expect(await ids({ states: ["completed", "failed"], limit: 10 })).toEqual({ ids: [], total: 0 });
      expect(await ids({ queue: "emails", limit: 1 })).toEqual({ ids: ["c"], total: 2 });
      expect(await ids({ tag: "x", limit: 10 })).toEqual({ ids: ["c", "a"], total: 2 });
      expect(await ids({ tag: "x", queue: "emails", states: ["pending"], limit: 10 })).toEqual({
        ids: ["c"],
        total: 1,
      });
    }),
  );

  test(
    "a stored spec reads back with its keys in the order normalizeSpec wrote them, env sorted",
    withStore(async ({ store }) => {
      const spec = normalizeSpec({
        id: "k",
        command: "true",
        timeout: "5m",
        priority: 3,
        env: { ZZ_LONGER_NAME: "1", A: "2" },
        tags: ["x"],
        limits: { memory: "64M", processes: 10 },
      });
      await store.jobInsertMany({
        jobs: [{ spec, revision: "r", maxRetries: 3, nextRunAt: T0, source: null }],
        now: T0,
      });
      const stored = (await store.jobGet({ id: "k" }))?.spec;
      // Byte for byte what normalizeSpec's object is written as, on every backend.
      expect(JSON.stringify(stored)).toBe(JSON.stringify(spec));
      expect(Object.keys(stored?.env ?? {})).toEqual(["A", "ZZ_LONGER_NAME"]);
      // A schedule's spec too, whose fields normalizeSpec checks in another order.
      const every = normalizeSpec({
        id: "s",
        command: "true",
        schedule: "0 3 * * 1-5",
        timezone: "Europe/Berlin",
        catchup: "none",
        overlap: "replace",
      });
      await store.scheduleUpsert({ id: "s", spec: every, revision: "r", source: null, nextAt: T0, now: T0 });
      expect(JSON.stringify((await store.scheduleGet({ id: "s" }))?.spec)).toBe(JSON.stringify(every));
      expect(Object.keys(every)).toEqual(["id", "command", "schedule", "timezone", "catchup", "overlap"]);
    }),
  );
}
