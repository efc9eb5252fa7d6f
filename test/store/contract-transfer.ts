/** Contract: export pages and all-or-nothing import, the pair that moves a queue between stores. */

import { expect, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import type { JobRecord, Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

export async function exportAll(store: Store, limit = 2): Promise<JobRecord[]> {
  const all: JobRecord[] = [];
  let after: string | null = null;
  do {
    const page: { jobs: JobRecord[]; next: string | null } = await store.jobExport({ after, limit });
    all.push(...page.jobs);
    after = page.next;
  } while (after !== null);
  return all;
}

export function record(id: string, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    spec: { id, command: `echo ${id}` },
    revision: `r-${id}`,
    state: "pending",
    attempts: 0,
    max_retries: 3,
    created_at: T0,
    updated_at: T0,
    next_run_at: T0,
    started_at: null,
    finished_at: null,
    exit_code: null,
    last_error: null,
    source: null,
    declared: false,
    completed_revisions: [],
    canceled_by: null,
    schedule_id: null,
    attempt_history: [],
    progress_pct: null,
    progress_message: null,
    result: null,
    ...extra,
  };
}

export function transferContract(withStore: WithStore): void {
  test(
    "export pages through every job in insertion order; a running job comes out pending, its attempt uncounted",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: ["a", "b", "c", "d", "e"].map((id) =>
          newJob(id, { tags: ["t"], ...(id === "e" ? { priority: 3, source: "jobs/e.yaml" } : {}) }),
        ),
        now: T0,
      });
      const e = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 100 });
      await store.jobComplete({ id: "e", token: e?.token ?? 0, now: T0 + 2, result: runResult(0) });
      await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 100 });
      const all = await exportAll(store);
      expect(all.map((job) => [job.id, job.state, job.attempts])).toEqual([
        ["a", "pending", 0],
        ["b", "pending", 0],
        ["c", "pending", 0],
        ["d", "pending", 0],
        ["e", "completed", 1],
      ]);
      expect(all[4]).toMatchObject({
        spec: { id: "e", command: "echo e", tags: ["t"], priority: 3 },
        finished_at: T0 + 2,
        exit_code: 0,
        completed_revisions: [all[4]?.revision],
      });
      expect(
        (await store.jobExport({ after: null, limit: 10, state: "completed" })).jobs.map((j) => j.id),
      ).toEqual(["e"]);
      expect((await store.jobExport({ after: null, limit: 10, state: "processing" })).jobs).toMatchObject([
        { id: "a", state: "pending", attempts: 0 },
      ]);
    }),
  );

  test(
    "import restores state, history and declarations, and the queue carries on from there",
    withStore(async ({ store }) => {
      const jobs = [
        record("done", {
          state: "completed",
          attempts: 2,
          started_at: T0 + 5,
          finished_at: T0 + 6,
          exit_code: 0,
          source: "jobs/done.yaml",
          declared: true,
          revision: "v2",
          completed_revisions: ["v1", "v2"],
        }),
        record("dead", {
          state: "dead",
          attempts: 4,
          last_error: "exit 1",
          exit_code: 1,
          finished_at: T0 + 7,
        }),
        record("later", {
          state: "failed",
          attempts: 1,
          next_run_at: T0 + 500,
          spec: { id: "later", command: ["ls", "-l"], queue: "q", tags: ["x"] },
        }),
      ];
      await store.jobImportMany({ jobs });
      expect(await exportAll(store)).toEqual(jobs);
      expect(await store.jobGet({ id: "later" })).toMatchObject({ queue: "q", tags: ["x"], token: 0 });
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 499, leaseMs: 10 })).toBeNull();
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 500, leaseMs: 10 })).toMatchObject({
        id: "later",
        attempts: 2,
      });
      const back = await store.jobfileApply({
        changes: {
          declarations: [
            {
              ...newJob("done", { source: "jobs/done.yaml" }),
              revision: "v1",
              source: "jobs/done.yaml",
              owner: "jobs",
              adoptFrom: null,
            },
          ],
          removals: [],
        },
        now: T0 + 600,
      });
      expect(back.showCompleted).toEqual(["done"]);
    }),
  );

  test(
    "a waiting job's missing dependency counts as done and is reported; a cycle is refused",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("here")], now: T0 });
      const waits = (id: string, after: string[], state: JobRecord["state"] = "pending") =>
        record(id, { state, spec: { id, command: `echo ${id}`, after } });
      const cycle = await store
        .jobImportMany({ jobs: [waits("a", ["b"]), waits("b", ["a"], "failed")] })
        .then(
          () => null,
          (thrown: unknown) => thrown,
        );
      expect(cycle).toBeInstanceOf(UserError);
      expect((cycle as UserError).message).toBe("the dependencies form a cycle: a → b → a");
      expect(await store.jobGet({ id: "a" })).toBeNull();
      // Purged at the source after it completed, or cut from the file: done either way, and said.
      const result = await store.jobImportMany({
        jobs: [
          waits("child", ["parent"]),
          waits("c1", ["p1"]),
          record("p1"),
          waits("c2", ["here"]),
          waits("done", ["purged"], "completed"),
        ],
      });
      expect(result.missingDependencies).toEqual([{ id: "child", dependency: "parent" }]);
      // child may run at once; c1 waits for p1, which came with it, and c2 for here.
      const ids: string[] = [];
      const claim = () => store.jobClaim({ workerId: "w", host: "h", now: T0 + 1, leaseMs: 10 });
      for (let job = await claim(); job; job = await claim()) ids.push(job.id);
      expect(ids.sort()).toEqual(["child", "here", "p1"]);
    }),
  );

  test(
    "a job's result and last progress travel with it, so what waits on it still gets the result",
    withStore(async ({ store }) => {
      const done = record("done", {
        state: "completed",
        attempts: 1,
        finished_at: T0 + 1,
        exit_code: 0,
        progress_pct: 100,
        progress_message: "all of it",
        result: '{"rows":42}',
      });
      await store.jobImportMany({ jobs: [done] });
      expect(await exportAll(store)).toEqual([done]);
      expect(await store.jobResults({ ids: ["done"] })).toEqual([{ id: "done", result: '{"rows":42}' }]);
    }),
  );

  test(
    "a waiting job whose dependency already ended dead or canceled is canceled at once, with what waits on it",
    withStore(async ({ store }) => {
      // In the store already: one canceled, one that used up its retries.
      await store.jobImportMany({
        jobs: [record("gone", { state: "canceled" }), record("broke", { state: "dead" })],
      });
      const waits = (id: string, after: string[]) =>
        record(id, { spec: { id, command: `echo ${id}`, after } });
      const result = await store.jobImportMany({
        jobs: [waits("b", ["gone"]), waits("c", ["b"]), waits("e", ["broke"]), waits("fine", [])],
        now: T0 + 5,
      });
      expect(result.canceledAtOnce.map(([id]) => id).sort()).toEqual(["b", "e"]);
      const states = await Promise.all(
        ["b", "c", "e", "fine"].map(async (id) => (await store.jobGet({ id }))?.state),
      );
      expect(states).toEqual(["canceled", "canceled", "canceled", "pending"]);
      expect((await store.jobGet({ id: "b" }))?.last_error).toBe("dependency gone ended canceled");
    }),
  );

  test(
    "an imported job's completed revisions get their dates back from its attempts, for sync to show",
    withStore(async ({ store }) => {
      const attempt = (token: number, revision: string, exitCode: number, finishedAt: number) => ({
        attempt: token,
        token,
        worker_id: "w",
        host: "h",
        started_at: finishedAt - 1,
        finished_at: finishedAt,
        exit_code: exitCode,
        signal: null,
        error: null,
        stdout_bytes: 0,
        stderr_bytes: 0,
        log_path: null,
        output_tail: null,
        revision,
      });
      await store.jobImportMany({
        jobs: [
          record("dated", {
            state: "completed",
            revision: "v2",
            completed_revisions: ["v1", "v2", "v0"],
            attempt_history: [
              attempt(1, "v1", 1, T0 + 10),
              attempt(2, "v1", 0, T0 + 20),
              attempt(3, "v2", 0, T0 + 30),
            ],
          }),
        ],
      });
      const [facts] = await store.jobDeclarations({ ids: ["dated"] });
      const dates = Object.fromEntries((facts?.completed ?? []).map((done) => [done.revision, done.at]));
      // v0's attempts did not come along (purged before the export): no date, as before.
      expect(dates).toEqual({ v0: null, v1: T0 + 20, v2: T0 + 30 });
    }),
  );

  test(
    "import is all or nothing: a duplicate id, even thousands of jobs in, names the id and imports nothing",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("taken")], now: T0 });
      const many = Array.from({ length: 2500 }, (_, i) => record(`job-${i}`));
      const attempt = store.jobImportMany({ jobs: [...many, record("taken")] });
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow('"taken"');
      expect((await store.jobCounts()).total).toBe(1);
      await expect(store.jobImportMany({ jobs: [record("x"), record("x")] })).rejects.toThrow('"x"');
      expect(await store.jobGet({ id: "x" })).toBeNull();
    }),
  );
}

/** An exported schedule, for the settings that travel with the jobs. */
export const nightly = {
  id: "nightly",
  spec: { id: "nightly", command: "echo nightly", schedule: "0 3 * * *" },
  revision: "n1",
  source: null,
  next_at: T0 + 1000,
  last_at: T0,
  created_at: T0 - 5,
  updated_at: T0,
};

export function settingsTransferContract(withStore: WithStore): void {
  test(
    "import restores config, queue settings and schedules with the jobs",
    withStore(async ({ store }) => {
      await store.configSet({ key: "max-retries", value: "1" });
      await store.queueSet({ name: "emails", paused: true });
      await store.jobImportMany({
        jobs: [record("a")],
        settings: {
          config: { "max-retries": "5", lease: "2" },
          queues: [
            { name: "emails", concurrency: 3, paused: false },
            { name: "reports", concurrency: null, paused: true },
          ],
          schedules: [nightly],
        },
      });
      expect(await store.configGetAll()).toEqual({ "max-retries": "5", lease: "2" });
      expect((await store.queueList()).map((q) => [q.name, q.concurrency, q.paused])).toEqual([
        ["default", null, false],
        ["emails", 3, false],
        ["reports", null, true],
      ]);
      expect(await store.scheduleList()).toEqual([nightly]);
    }),
  );

  test(
    "a schedule id the target already has refuses the whole import",
    withStore(async ({ store }) => {
      await store.scheduleUpsert({ ...nightly, nextAt: T0, now: T0 });
      const attempt = store.jobImportMany({
        jobs: [record("a")],
        settings: { config: { lease: "9" }, queues: [], schedules: [nightly] },
      });
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow('schedule id "nightly" already exists');
      expect(await store.jobGet({ id: "a" })).toBeNull();
      expect(await store.configGetAll()).toEqual({});
    }),
  );

  test(
    "a jobfile job's history beside the schedule its file made of it is imported with it",
    withStore(async ({ store }) => {
      const source = "/jobs/nightly.yaml";
      // As a sync leaves them when a jobfile gains `schedule`: the old job kept as history.
      const history = record("nightly", { state: "completed", source, declared: false, finished_at: T0 });
      const result = await store.jobImportMany({
        jobs: [history],
        settings: { config: {}, queues: [], schedules: [{ ...nightly, source }] },
      });
      expect([result.jobsImported, result.schedulesImported]).toEqual([1, 1]);
      expect((await store.jobGet({ id: "nightly" }))?.state).toBe("completed");
      expect((await store.scheduleList()).map((schedule) => schedule.id)).toEqual(["nightly"]);
      // A job of that id from any other door still clashes with the schedule.
      const other = store.jobImportMany({ jobs: [record("nightly")] });
      await expect(other).rejects.toThrow('job id "nightly" already exists');
    }),
  );
}
