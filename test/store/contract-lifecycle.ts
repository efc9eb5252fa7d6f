/** Contract: a claimed job's lease, its fenced outcomes, rescue, release and transitions. */

import { expect, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import type { Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

async function claimOne(store: Store, now = T0, leaseMs = 1000, workerId = "w1"): Promise<Job> {
  const job = await store.jobClaim({ workerId, host: "host-a", now, leaseMs });
  if (!job) throw new Error("expected a job to claim");
  return job;
}

export function lifecycleContract(withStore: WithStore): void {
  test(
    "a claim bumps attempts and token, sets the lease and records the attempt",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const job = await claimOne(store, T0 + 5, 2000);
      expect(job).toMatchObject({
        state: "processing",
        attempts: 1,
        token: 1,
        worker_id: "w1",
        lease_until: T0 + 2005,
        started_at: T0 + 5,
        updated_at: T0 + 5,
      });
      expect(await store.attemptList({ jobId: "a" })).toEqual([
        {
          job_id: "a",
          attempt: 1,
          token: 1,
          worker_id: "w1",
          host: "host-a",
          started_at: T0 + 5,
          finished_at: null,
          exit_code: null,
          signal: null,
          error: null,
          stdout_bytes: 0,
          stderr_bytes: 0,
          log_path: null,
          output_tail: null,
          // The claim records the revision it runs.
          revision: newJob("a").revision,
        },
      ]);
    }),
  );

  test(
    "a lease is extended only by the token that holds it",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const job = await claimOne(store);
      expect(await store.jobLeaseExtend({ id: "a", token: job.token + 1, leaseUntil: T0 + 9000 })).toBe(
        false,
      );
      expect(await store.jobLeaseExtend({ id: "a", token: job.token, leaseUntil: T0 + 9000 })).toBe(true);
      expect((await store.jobGet({ id: "a" }))?.lease_until).toBe(T0 + 9000);
      await store.jobComplete({ id: "a", token: job.token, now: T0 + 10, result: runResult(0) });
      expect(await store.jobLeaseExtend({ id: "a", token: job.token, leaseUntil: T0 + 9999 })).toBe(false);
    }),
  );

  test(
    "complete is fenced by the token and records the run",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const job = await claimOne(store);
      expect(await store.jobComplete({ id: "a", token: 99, now: T0 + 10, result: runResult(0) })).toBe(false);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("processing");
      const result = runResult(0, { outputTail: "done\n", stdoutBytes: 5 });
      expect(await store.jobComplete({ id: "a", token: job.token, now: T0 + 10, result })).toBe(true);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "completed",
        finished_at: T0 + 10,
        lease_until: null,
        exit_code: 0,
        last_error: null,
      });
      expect((await store.attemptList({ jobId: "a" }))[0]).toMatchObject({
        finished_at: T0 + 10,
        exit_code: 0,
        stdout_bytes: 5,
        stderr_bytes: 3,
        log_path: "logs/x",
        output_tail: "done\n",
      });
      expect(await store.jobComplete({ id: "a", token: job.token, now: T0 + 11, result })).toBe(false);
    }),
  );

  test(
    "fail moves a job to failed (claimable at next_run_at) or dead, fenced by the token",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
      const a = await claimOne(store);
      const fail = { now: T0 + 10, nextRunAt: T0 + 2000, result: runResult(3, { signal: "SIGTERM" }) };
      expect(await store.jobFail({ id: "a", token: a.token + 1, state: "failed", ...fail })).toBeNull();
      expect(await store.jobFail({ id: "a", token: a.token, state: "failed", ...fail })).toEqual({
        state: "failed",
        because: null,
        nextRunAt: T0 + 2000,
      });
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "failed",
        next_run_at: T0 + 2000,
        finished_at: null,
        lease_until: null,
        exit_code: 3,
        last_error: "exit 3",
      });
      expect((await store.attemptList({ jobId: "a" }))[0]).toMatchObject({ exit_code: 3, signal: "SIGTERM" });

      const b = await claimOne(store, T0 + 20);
      expect(b.id).toBe("b");
      expect(await store.jobFail({ id: "b", token: b.token, state: "dead", ...fail })).toEqual({
        state: "dead",
        because: null,
        nextRunAt: null,
      });
      expect(await store.jobGet({ id: "b" })).toMatchObject({ state: "dead", finished_at: T0 + 10 });
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1999, leaseMs: 10 })).toBeNull();
      expect((await store.jobClaim({ workerId: "w", host: "h", now: T0 + 2000, leaseMs: 10 }))?.id).toBe("a");
    }),
  );

  test(
    "rescue fails a job only once its lease has lapsed, and the old worker is fenced out",
    withStore(async ({ store, another }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const first = await claimOne(store, T0, 1000);
      const rescuer = await another();
      expect(await rescuer.jobExpiredLeases({ now: T0 + 1000, limit: 10 })).toEqual([]);
      const rescue = (now: number) =>
        rescuer.jobFail({
          id: "a",
          token: first.token,
          now,
          state: "failed",
          nextRunAt: now,
          result: runResult(null, { error: "worker lost" }),
          onlyIfLeaseExpiredBefore: now,
        });
      expect(await rescue(T0 + 1000)).toBeNull();
      // A renewed lease protects the job even though the original one ran out.
      await store.jobLeaseExtend({ id: "a", token: first.token, leaseUntil: T0 + 5000 });
      expect(await rescue(T0 + 2000)).toBeNull();

      expect((await rescuer.jobExpiredLeases({ now: T0 + 5001, limit: 10 })).map((job) => job.id)).toEqual([
        "a",
      ]);
      expect(await rescue(T0 + 5001)).toMatchObject({ state: "failed" });
      expect(await rescuer.jobGet({ id: "a" })).toMatchObject({ state: "failed", last_error: "worker lost" });

      const second = await claimOne(rescuer, T0 + 6000, 1000, "w2");
      expect(second.token).toBe(first.token + 1);
      expect(
        await store.jobComplete({ id: "a", token: first.token, now: T0 + 6001, result: runResult(0) }),
      ).toBe(false);
      expect(
        await rescuer.jobComplete({ id: "a", token: second.token, now: T0 + 6002, result: runResult(0) }),
      ).toBe(true);
      expect((await rescuer.attemptList({ jobId: "a" })).map((row) => [row.token, row.worker_id])).toEqual([
        [1, "w1"],
        [2, "w2"],
      ]);
    }),
  );

  test(
    "a crashed worker's row written straight into the database is found and rescued",
    withStore(async ({ store, location }) => {
      await store.jobInsertMany({ jobs: [newJob("crashed"), newJob("fine")], now: T0 });
      await location.exec(
        `UPDATE jobs SET state = 'processing', attempts = 1, token = 1, worker_id = 'gone', lease_until = ${T0 + 50}
         WHERE id = 'crashed'`,
      );
      const expired = await store.jobExpiredLeases({ now: T0 + 100, limit: 10 });
      expect(expired.map((job) => [job.id, job.worker_id])).toEqual([["crashed", "gone"]]);
      const rescued = await store.jobFail({
        id: "crashed",
        token: 1,
        now: T0 + 100,
        state: "dead",
        nextRunAt: T0 + 100,
        result: runResult(null, { error: "lease expired" }),
        onlyIfLeaseExpiredBefore: T0 + 100,
      });
      expect(rescued).toMatchObject({ state: "dead", because: null });
      expect((await store.jobGet({ id: "crashed" }))?.state).toBe("dead");
      expect(await store.jobExpiredLeases({ now: T0 + 100, limit: 10 })).toEqual([]);
    }),
  );

  test(
    "release hands a running job back without counting the attempt, in its place in line",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const job = await claimOne(store);
      // Queued while a ran: once a is handed back, a still comes first (FIFO).
      await store.jobInsertMany({ jobs: [newJob("b")], now: T0 + 2 });
      expect(await store.jobRelease({ id: "a", token: job.token + 1, now: T0 + 5, reason: "stop" })).toBe(
        false,
      );
      expect(
        await store.jobRelease({ id: "a", token: job.token, now: T0 + 5, reason: "worker stopped" }),
      ).toBe(true);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "pending",
        attempts: 0,
        token: 1,
        worker_id: null,
        lease_until: null,
        next_run_at: T0,
      });
      expect((await store.attemptList({ jobId: "a" }))[0]).toMatchObject({
        finished_at: T0 + 5,
        error: "worker stopped",
      });
      expect(await claimOne(store, T0 + 6)).toMatchObject({ id: "a", token: 2 });
    }),
  );

  test(
    "a release of a run that never started leaves no attempt and keeps the job's place in line",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      const job = await claimOne(store);
      const release = { id: "a", token: job.token, now: T0 + 5, reason: "handed back", unstarted: true };
      expect(await store.jobRelease(release)).toBe(true);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "pending",
        attempts: 0,
        next_run_at: T0,
      });
      expect(await store.attemptList({ jobId: "a" })).toEqual([]);
      // A retry claimed and handed back is still a retry; a kill asked for meanwhile refuses the release.
      const retry = await claimOne(store, T0 + 6);
      const failure = { state: "failed" as const, nextRunAt: T0 + 8, result: runResult(1) };
      await store.jobFail({ id: "a", token: retry.token, now: T0 + 7, ...failure });
      const again = await claimOne(store, T0 + 9);
      expect(await store.jobRelease({ ...release, token: again.token, now: T0 + 10 })).toBe(true);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "failed",
        attempts: 1,
        next_run_at: T0 + 8,
      });
      const killed = await claimOne(store, T0 + 11);
      expect(await store.jobKillRequest({ id: "a", mode: "cancel" })).not.toBeNull();
      expect(await store.jobRelease({ ...release, token: killed.token, now: T0 + 12 })).toBe(false);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("processing");
    }),
  );

  test(
    "transitions move only jobs in the given states and return them in insertion order",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: ["a", "b", "c", "d"].map((id) => newJob(id)), now: T0 });
      const d = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 100 });
      expect(d?.id).toBe("a");
      // `a` is processing now: canceling it must not work.
      expect(
        await store.jobTransition({
          id: "a",
          from: ["pending", "failed"],
          to: "canceled",
          resetAttempts: false,
          now: T0 + 1,
        }),
      ).toEqual([]);
      const canceled = await store.jobTransition({
        id: "b",
        from: ["pending", "failed"],
        to: "canceled",
        resetAttempts: false,
        now: T0 + 2,
        reason: "canceled by user",
      });
      expect(canceled.map((job) => [job.id, job.state, job.finished_at, job.last_error])).toEqual([
        ["b", "canceled", T0 + 2, "canceled by user"],
      ]);
      if (d)
        await store.jobFail({
          id: "a",
          token: d.token,
          now: T0 + 3,
          state: "dead",
          nextRunAt: T0 + 3,
          result: runResult(1),
        });

      const all = await store.jobTransition({
        from: ["pending", "canceled"],
        to: "canceled",
        resetAttempts: false,
        now: T0 + 4,
      });
      expect(all.map((job) => job.id)).toEqual(["b", "c", "d"]);

      const retried = await store.jobTransition({
        id: "a",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: T0 + 9,
      });
      // A re-queued job starts clean: the last run's exit code and error belong to history (attempts).
      expect(
        retried.map((job) => [
          job.state,
          job.attempts,
          job.next_run_at,
          job.finished_at,
          job.last_error,
          job.exit_code,
        ]),
      ).toEqual([["pending", 0, T0 + 9, null, null, null]]);
      expect((await store.jobClaim({ workerId: "w", host: "h", now: T0 + 9, leaseMs: 100 }))?.token).toBe(2);
    }),
  );
}
