/**
 * Contract: jobFail answers with the state it wrote. A job's jobfile can change that under
 * a running attempt, and workers print this answer, so it must be what the row says.
 */

import { expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { runResult, T0, type WithStore } from "./contract-helpers.ts";
import { declared, none } from "./contract-jobfiles.ts";

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
}
