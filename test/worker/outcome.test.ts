/**
 * Recording attempts and rescuing crashed ones, against a real SQLite file with a fixed
 * clock. Crashed states are written as a crash leaves them: a processing row whose
 * lease has run out.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { openStore } from "../../src/store/open.ts";
import type { RunResult, Store } from "../../src/store/store.ts";
import { recordAttempt } from "../../src/worker/outcome.ts";
import { LeaseSightings, rescueExpiredLeases } from "../../src/worker/rescue.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const T0 = 1_700_000_000_000;
const config = resolveConfig({ "backoff-base": "2", lease: "30" });

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-outcome-"));
  store = await openStore({ url: join(dir, "jobs.db") });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function result(exitCode: number | null, error: string | null = exitCode === 0 ? null : "boom"): RunResult {
  return {
    exitCode,
    signal: null,
    error,
    stdoutBytes: 3,
    stderrBytes: 0,
    logPath: "logs/x-1",
    outputTail: "hi\n",
  };
}

async function enqueueAndClaim(id: string, maxRetries: number, workerId = "w1", now = T0) {
  await store.jobInsertMany({
    jobs: [{ spec: { id, command: "true" }, revision: `r-${id}`, maxRetries, nextRunAt: now, source: null }],
    now,
  });
  const job = await store.jobClaim({ workerId, host: "h", now, leaseMs: config.leaseMs });
  if (!job) throw new Error("nothing to claim");
  return job;
}

describe("recordAttempt", () => {
  test("success completes; failure waits base^attempts; the last failure goes to the DLQ", async () => {
    const first = await enqueueAndClaim("a", 1);
    expect(
      await recordAttempt(store, {
        job: first,
        result: result(1),
        config,
        now: T0 + 10,
        releaseReason: null,
      }),
    ).toEqual({
      outcome: "failed",
      nextRunAt: T0 + 10 + 2000,
      because: null,
    });
    const second = await store.jobClaim({
      workerId: "w1",
      host: "h",
      now: T0 + 2010,
      leaseMs: config.leaseMs,
    });
    expect(second?.attempts).toBe(2);
    const dead = await recordAttempt(store, {
      job: second as NonNullable<typeof second>,
      result: result(1),
      config,
      now: T0 + 2020,
      releaseReason: null,
    });
    expect(dead.outcome).toBe("dead");
    expect((await store.jobGet({ id: "a" }))?.state).toBe("dead");

    const ok = await enqueueAndClaim("b", 0, "w1", T0 + 3000);
    expect(
      (
        await recordAttempt(store, {
          job: ok,
          result: result(0),
          config,
          now: T0 + 3001,
          releaseReason: null,
        })
      ).outcome,
    ).toBe("completed");
  });

  test("exit 0 after a timeout is still a failure", async () => {
    const job = await enqueueAndClaim("t", 2);
    const outcome = await recordAttempt(store, {
      job,
      result: result(0, "timed out after 1s"),
      config,
      now: T0 + 1,
      releaseReason: null,
    });
    expect(outcome.outcome).toBe("failed");
  });

  test("a release hands the job back to pending without counting the attempt", async () => {
    const job = await enqueueAndClaim("r", 3);
    const outcome = await recordAttempt(store, {
      job,
      result: result(null, "stopped"),
      config,
      now: T0 + 5,
      releaseReason: "stopped by worker stop",
    });
    expect(outcome.outcome).toBe("released");
    expect(await store.jobGet({ id: "r" })).toMatchObject({ state: "pending", attempts: 0 });
  });

  test("the fencing token refuses a stale worker's result once a newer claim owns the job", async () => {
    const stale = await enqueueAndClaim("f", 3, "w-old");
    // w-old goes silent; its lease runs out and another worker rescues and reclaims the job.
    const later = T0 + config.leaseMs + 1;
    expect((await rescueExpiredLeases(store, { now: later, config, ownTokens: new Map() })).length).toBe(1);
    const fresh = await store.jobClaim({
      workerId: "w-new",
      host: "h",
      now: later + 5000,
      leaseMs: config.leaseMs,
    });
    expect(fresh?.token).toBeGreaterThan(stale.token);

    // The stale worker comes back and reports success, failure or a release: all refused.
    for (const [outcomeResult, releaseReason] of [
      [result(0), null],
      [result(1), null],
      [result(null), "stopped"],
    ] as const) {
      const recorded = await recordAttempt(store, {
        job: stale,
        result: outcomeResult,
        config,
        now: later + 6000,
        releaseReason,
      });
      expect(recorded.outcome).toBe("discarded");
    }
    expect(await store.jobLeaseExtend({ id: "f", token: stale.token, leaseUntil: later + 99_000 })).toBe(
      false,
    );
    expect(await store.jobGet({ id: "f" })).toMatchObject({ state: "processing", worker_id: "w-new" });
    // The newer attempt's own result still lands.
    const mine = await recordAttempt(store, {
      job: fresh as NonNullable<typeof fresh>,
      result: result(0),
      config,
      now: later + 7000,
      releaseReason: null,
    });
    expect(mine.outcome).toBe("completed");
  });
});

describe("rescueExpiredLeases", () => {
  test("a processing job whose lease ran out is a failed attempt, retried by the normal rules", async () => {
    await enqueueAndClaim("crashed", 1, "w-dead");
    const beforeExpiry = T0 + config.leaseMs - 1;
    expect(await rescueExpiredLeases(store, { now: beforeExpiry, config, ownTokens: new Map() })).toEqual([]);

    const now = T0 + config.leaseMs + 1;
    const rescued = await rescueExpiredLeases(store, { now, config, ownTokens: new Map() });
    expect(rescued.map((r) => [r.job.id, r.outcome])).toEqual([["crashed", "failed"]]);
    const job = await store.jobGet({ id: "crashed" });
    expect(job).toMatchObject({ state: "failed", attempts: 1, next_run_at: now + 2000 });
    expect(job?.last_error).toContain("lease expired: worker w-dead");
    const [attempt] = await store.attemptList({ jobId: "crashed" });
    expect(attempt?.finished_at).toBe(now);

    // Its second crash uses the last retry: the DLQ.
    await store.jobClaim({ workerId: "w-dead", host: "h", now: now + 2000, leaseMs: config.leaseMs });
    const again = await rescueExpiredLeases(store, {
      now: now + 2000 + config.leaseMs + 1,
      config,
      ownTokens: new Map(),
    });
    expect(again.map((r) => r.outcome)).toEqual(["dead"]);
  });

  test("a dead worker's 250 jobs are all rescued after one confirmation, not a hundred at a time", async () => {
    const jobs = Array.from({ length: 250 }, (_, i) => ({
      spec: { id: `j${i}`, command: "true" },
      revision: `r${i}`,
      maxRetries: 3,
      nextRunAt: T0,
      source: null,
    }));
    await store.jobInsertMany({ jobs, now: T0 });
    for (let i = 0; i < 250; i++)
      await store.jobClaim({ workerId: "w-dead", host: "h", now: T0, leaseMs: 1 });
    let monotonic = 0;
    const sightings = { tracker: new LeaseSightings(() => monotonic), confirmMs: 1_000 };
    const check = () => rescueExpiredLeases(store, { now: T0 + 10, config, ownTokens: new Map(), sightings });
    expect(await check()).toEqual([]);
    monotonic = 1_000;
    expect((await check()).length).toBe(250);
    expect((await store.jobCounts()).processing).toBe(0);
  });

  test("a worker never rescues the attempts it is running itself", async () => {
    const mine = await enqueueAndClaim("mine", 3, "w1");
    const now = T0 + config.leaseMs + 1;
    const rescued = await rescueExpiredLeases(store, {
      now,
      config,
      ownTokens: new Map([["mine", mine.token]]),
    });
    expect(rescued).toEqual([]);
    expect((await store.jobGet({ id: "mine" }))?.state).toBe("processing");
  });

  test("two rescuers racing: only one records the failure", async () => {
    await enqueueAndClaim("raced", 3, "w-dead");
    const other = await openStore({ url: join(dir, "jobs.db") });
    try {
      const now = T0 + config.leaseMs + 1;
      const [a, b] = await Promise.all([
        rescueExpiredLeases(store, { now, config, ownTokens: new Map() }),
        rescueExpiredLeases(other, { now, config, ownTokens: new Map() }),
      ]);
      expect(a.length + b.length).toBe(1);
      expect((await store.jobGet({ id: "raced" }))?.attempts).toBe(1);
    } finally {
      await other.close();
    }
  });
});
