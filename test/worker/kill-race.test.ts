/**
 * `kill` in two steps (kill.ts): it cancels a job that waits, and asks the worker of one that
 * runs to stop it. A run that fails between the two steps leaves a job that neither step
 * matched as it was: waiting for its retry. A plain kill then cancels it, as it cancels any
 * waiting job; `kill --retry` leaves it waiting, as it always does. On every backend, the
 * run's failure written by the test exactly between the steps.
 */

import { describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { killJobs } from "../../src/worker/kill.ts";
import { runResult } from "../store/contract-helpers.ts";
import { backends, type StoreMethod, withQueue, wrappedStore } from "./in-process.ts";

/** Claims `id` as a worker elsewhere; `store`, whose next kill request first records that run's failure. */
async function failingAsKilled(store: Store, id: string): Promise<Store> {
  const claimed = await store.jobClaim({
    workerId: "w-elsewhere",
    host: "elsewhere",
    now: Date.now(),
    leaseMs: 60_000,
  });
  if (claimed?.id !== id) throw new Error(`claimed ${claimed?.id}, not ${id}`);
  let failed = false;
  return wrappedStore(store, (name, method) => {
    if (name !== "jobKillRequest") return null;
    return (async (...args: unknown[]) => {
      if (!failed) {
        failed = true;
        const now = Date.now();
        const written = await store.jobFail({
          id,
          token: claimed.token,
          now,
          state: "failed",
          nextRunAt: now + 60_000,
          result: runResult(1),
        });
        if (written?.state !== "failed") throw new Error("the run's failure was not written");
      }
      return method(...args);
    }) as StoreMethod;
  });
}

for (const backend of backends) {
  describe(`a run that fails between kill's two steps (${backend.name})`, () => {
    test(
      "a plain kill cancels the job, now waiting for its retry",
      withQueue(backend, {}, async (h, store) => {
        await h.enqueue(store, [{ id: "racing", command: "exit 1", max_retries: 2 }]);
        const racing = await failingAsKilled(store, "racing");
        expect(await killJobs(racing, ["racing"])).toEqual([{ id: "racing", kind: "canceled" }]);
        const job = await store.jobGet({ id: "racing" });
        expect([job?.state, job?.last_error]).toEqual(["canceled", "killed by user"]);
      }),
    );

    test(
      "kill --retry leaves it waiting for its retry, and says it was not running",
      withQueue(backend, {}, async (h, store) => {
        await h.enqueue(store, [{ id: "racing", command: "exit 1", max_retries: 2 }]);
        const racing = await failingAsKilled(store, "racing");
        expect(await killJobs(racing, ["racing"], { retry: true })).toEqual([
          { id: "racing", kind: "not-running", state: "failed" },
        ]);
        expect((await store.jobGet({ id: "racing" }))?.state).toBe("failed");
      }),
    );
  });
}
