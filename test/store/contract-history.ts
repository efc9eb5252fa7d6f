/** Contract: export carries attempt history; `import --merge` adds what is missing. */

import { expect, test } from "bun:test";
import type { AttemptRecord } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";
import { exportAll, nightly, record } from "./contract-transfer.ts";

function attempt(token: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    attempt: token,
    token,
    worker_id: "w-old",
    host: "old-host",
    started_at: T0 + token * 10,
    finished_at: T0 + token * 10 + 5,
    exit_code: 1,
    signal: null,
    error: `exited with code 1`,
    stdout_bytes: 3,
    stderr_bytes: 0,
    log_path: `logs/x-${token}`,
    output_tail: `try ${token}`,
    revision: null,
    ...extra,
  };
}

export function historyContract(withStore: WithStore): void {
  test(
    "export carries each job's finished attempts, oldest first; an unfinished one is left out",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("flaky", { max_retries: 3 })], now: T0 });
      const first = await store.jobClaim({ workerId: "w1", host: "h1", now: T0 + 1, leaseMs: 100 });
      await store.jobFail({
        id: "flaky",
        token: first?.token ?? 0,
        now: T0 + 2,
        state: "failed",
        nextRunAt: T0 + 3,
        result: runResult(7, { outputTail: "boom" }),
      });
      await store.jobClaim({ workerId: "w2", host: "h2", now: T0 + 4, leaseMs: 100 });
      const [flaky] = await exportAll(store);
      expect(flaky?.attempt_history).toEqual([
        {
          attempt: 1,
          token: first?.token ?? 0,
          worker_id: "w1",
          host: "h1",
          started_at: T0 + 1,
          finished_at: T0 + 2,
          exit_code: 7,
          signal: null,
          error: runResult(7).error,
          stdout_bytes: runResult(7).stdoutBytes,
          stderr_bytes: runResult(7).stderrBytes,
          log_path: runResult(7).logPath,
          output_tail: "boom",
          revision: newJob("flaky", { max_retries: 3 }).revision,
        },
      ]);
    }),
  );

  test(
    "import restores the history, and the job's next claim numbers its attempt above it",
    withStore(async ({ store }) => {
      const history = [attempt(1), attempt(2, { exit_code: 0, error: null })];
      await store.jobImportMany({
        jobs: [record("a", { state: "completed", attempts: 2, finished_at: T0 + 25, exit_code: 0 })],
      });
      expect(await store.attemptList({ jobId: "a" })).toEqual([]);
      await store.jobImportMany({
        jobs: [record("b", { state: "completed", attempts: 2, attempt_history: history })],
      });
      const restored = await store.attemptList({ jobId: "b" });
      expect(restored.map(({ job_id, ...rest }) => [job_id, rest])).toEqual(history.map((a) => ["b", a]));
      expect((await exportAll(store)).find((job) => job.id === "b")?.attempt_history).toEqual(history);
      await store.jobTransition({
        id: "b",
        from: ["completed"],
        to: "pending",
        resetAttempts: true,
        now: T0 + 50,
      });
      const claimed = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 60, leaseMs: 100 });
      expect(claimed?.id).toBe("b");
      expect(claimed?.token).toBe(3);
      expect((await store.attemptList({ jobId: "b" })).map((a) => a.token)).toEqual([1, 2, 3]);
    }),
  );

  test(
    "import with merge adds the missing jobs and schedules, skips ids that exist, keeps every setting",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("kept")], now: T0 });
      await store.configSet({ key: "max-retries", value: "1" });
      await store.queueSet({ name: "emails", paused: true });
      await store.scheduleUpsert({ ...nightly, nextAt: T0, now: T0 });
      const result = await store.jobImportMany({
        merge: true,
        jobs: [
          record("kept", { state: "dead", attempt_history: [attempt(1)] }),
          record("new", { attempt_history: [attempt(1)] }),
          record("child", { spec: { id: "child", command: "x", after: ["kept"] } }),
        ],
        settings: {
          config: { "max-retries": "5", lease: "9" },
          queues: [
            { name: "emails", concurrency: 3, paused: false },
            { name: "reports", concurrency: null, paused: true },
          ],
          schedules: [nightly, { ...nightly, id: "weekly", spec: { ...nightly.spec, id: "weekly" } }],
        },
      });
      expect(result).toEqual({
        jobsImported: 2,
        jobsSkipped: 1,
        jobsSkippedAsOccurrences: 0,
        schedulesImported: 1,
        schedulesSkipped: 1,
        queuesImported: 0,
        configImported: 0,
        missingDependencies: [],
        canceledAtOnce: [],
      });
      expect((await store.jobGet({ id: "kept" }))?.state).toBe("pending");
      expect(await store.attemptList({ jobId: "kept" })).toEqual([]);
      expect((await store.attemptList({ jobId: "new" })).length).toBe(1);
      // `lease` too: the target never set it, so its default is the target's config.
      expect(await store.configGetAll()).toEqual({ "max-retries": "1" });
      const settled = (await store.queueList()).filter((queue) => queue.paused || queue.concurrency !== null);
      expect(settled.map((queue) => [queue.name, queue.concurrency, queue.paused])).toEqual([
        ["emails", null, true],
      ]);
      expect((await store.scheduleList()).map((schedule) => schedule.id)).toEqual(["nightly", "weekly"]);
      // A new job that waits for an existing one is blocked until that one completes.
      const claimed = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 100 });
      expect(claimed?.id).not.toBe("child");
    }),
  );

  test(
    "import without merge still refuses an existing id whole",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("kept")], now: T0 });
      await expect(store.jobImportMany({ jobs: [record("new"), record("kept")] })).rejects.toThrow('"kept"');
      expect(await store.jobGet({ id: "new" })).toBeNull();
    }),
  );
}
