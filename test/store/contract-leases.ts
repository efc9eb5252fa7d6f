/**
 * Contract: what a worker's own books need from the store: every lease renewed in one
 * call, kill requests carried back by the renewal, a kill recorded as `canceled`, the
 * store's clock for heartbeat ages, and purges in bounded batches.
 */

import { expect, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import type { Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

async function claim(store: Store, now = T0): Promise<Job> {
  const job = await store.jobClaim({ workerId: "w1", host: "h", now, leaseMs: 1000 });
  if (!job) throw new Error("nothing to claim");
  return job;
}

export function leasesContract(withStore: WithStore): void {
  test(
    "renewing many leases at once renews only those still held, and brings back kill requests",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b"), newJob("c")], now: T0 });
      const a = await claim(store);
      const b = await claim(store);
      const c = await claim(store);
      await store.jobComplete({ id: "c", token: c.token, now: T0 + 1, result: runResult(0) });
      expect(await store.jobKillRequest({ id: "b", mode: "retry" })).toEqual({
        workerId: "w1",
        token: b.token,
      });
      expect(await store.jobKillRequest({ id: "c", mode: "cancel" })).toBeNull();
      // A plain kill of a: a later `kill --retry` does not turn it back into a retry.
      await store.jobKillRequest({ id: "a", mode: "cancel" });
      await store.jobKillRequest({ id: "a", mode: "retry" });
      expect((await store.jobGet({ id: "a" }))?.kill_requested).toBe("cancel");
      const renewed = await store.jobLeaseRenewMany({
        leases: [
          { id: "a", token: a.token },
          { id: "a", token: a.token + 1 },
          { id: "b", token: b.token },
          { id: "c", token: c.token },
          { id: "nobody", token: 1 },
        ],
        leaseUntil: T0 + 9000,
      });
      expect(renewed.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
        { id: "a", token: a.token, killRequested: "cancel" },
        { id: "b", token: b.token, killRequested: "retry" },
      ]);
      expect((await store.jobGet({ id: "a" }))?.lease_until).toBe(T0 + 9000);
      expect(await store.jobLeaseRenewMany({ leases: [], leaseUntil: T0 })).toEqual([]);
    }),
  );

  test(
    "a kill request ends with its claim: the next claim starts without one",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a", { max_retries: 2 })], now: T0 });
      const first = await claim(store);
      await store.jobKillRequest({ id: "a", mode: "retry" });
      await store.jobFail({
        id: "a",
        token: first.token,
        now: T0 + 1,
        state: "failed",
        nextRunAt: T0 + 1,
        result: runResult(null, { error: "killed by user (kill --retry)" }),
      });
      const second = await claim(store, T0 + 2);
      const [renewed] = await store.jobLeaseRenewMany({
        leases: [{ id: "a", token: second.token }],
        leaseUntil: T0 + 5000,
      });
      expect(renewed?.killRequested).toBeNull();
    }),
  );

  test(
    "a killed job ends canceled, fenced by its token, and cancels its dependents",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b", { after: ["a"] })], now: T0 });
      const job = await claim(store);
      const result = runResult(null, { error: "killed by user" });
      const fail = { id: "a", now: T0 + 5, state: "canceled" as const, nextRunAt: T0 + 5, result };
      expect(await store.jobFail({ ...fail, token: job.token + 1 })).toBeNull();
      expect(await store.jobFail({ ...fail, token: job.token })).toEqual({
        state: "canceled",
        because: null,
        nextRunAt: null,
      });
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "canceled",
        finished_at: T0 + 5,
        last_error: "killed by user",
      });
      expect((await store.jobGet({ id: "b" }))?.state).toBe("canceled");
    }),
  );

  test(
    "the store's clock is close to this host's, and a heartbeat is recorded on it",
    withStore(async ({ store }) => {
      const now = await store.clockNow();
      expect(Math.abs(now - Date.now())).toBeLessThan(60_000);
      await store.workerRegister({ id: "w", host: "h", pid: 1, now: Date.now(), queues: null });
      await store.workerHeartbeat({ id: "w", now: Date.now() });
      const [row] = await store.workerList();
      expect(Math.abs((row?.heartbeat_at ?? 0) - (await store.clockNow()))).toBeLessThan(5_000);
    }),
  );

  test(
    "a purge with a limit deletes at most that many, oldest first",
    withStore(async ({ store }) => {
      const ids = ["p1", "p2", "p3"];
      await store.jobInsertMany({ jobs: ids.map((id) => newJob(id)), now: T0 });
      for (const id of ids) {
        const job = await claim(store);
        await store.jobComplete({ id, token: job.token, now: T0 + 1, result: runResult(0) });
      }
      const purge = { states: ["completed" as const], finishedBefore: T0 + 100, dryRun: false };
      expect(await store.jobPurge({ ...purge, limit: 2 })).toEqual(["p1", "p2"]);
      expect(await store.jobPurge({ ...purge, limit: 2 })).toEqual(["p3"]);
    }),
  );
}
