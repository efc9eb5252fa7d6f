/** Contract: bulk input that streams in batches (enqueue -f of NDJSON, import), all or nothing. */

import { expect, test } from "bun:test";
import { DuplicateIdError, UserError } from "../../src/core/errors.ts";
import { newJobRow } from "../../src/store/columns.ts";
import type { ImportBatch, NewJob, NewJobRow } from "../../src/store/store.ts";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";
import { record } from "./contract-transfer.ts";

async function* batchesOf<T>(batches: T[], failAfter?: number): AsyncGenerator<T> {
  for (const [index, batch] of batches.entries()) {
    if (index === failAfter) throw new UserError("jobs.ndjson, line 9: bad line", "fix it");
    yield batch;
  }
}

/** Batches of new jobs as a streamed enqueue hands them to the store: as rows. */
function rowBatchesOf(batches: NewJob[][], failAfter?: number): AsyncGenerator<NewJobRow[]> {
  return batchesOf(
    batches.map((batch) => batch.map((job) => newJobRow(job))),
    failAfter,
  );
}

function ids(prefix: string, count: number): NewJob[] {
  return Array.from({ length: count }, (_, i) => newJob(`${prefix}-${i}`));
}

export function streamsContract(withStore: WithStore): void {
  test(
    "a streamed insert stores every batch in order, counts them, and links dependencies across batches",
    withStore(async ({ store }) => {
      const progress: number[] = [];
      const count = await store.jobInsertStream({
        batches: rowBatchesOf([
          [newJob("report", { after: ["build"] }), ...ids("a", 249)],
          [newJob("build")],
        ]),
        now: T0,
        onProgress: (done) => progress.push(done),
      });
      expect(count).toBe(251);
      expect(progress).toEqual([250, 251]);
      const listed = (await store.jobList({})).map((job) => job.id);
      expect(listed[0]).toBe("report");
      expect(listed.at(-1)).toBe("build");
      // report waits for build, so the first claim skips it.
      const claimed = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 60_000 });
      expect(claimed?.id).toBe("a-0");
    }),
  );

  test(
    "a streamed insert is all or nothing: an id repeated in a later batch, one the store has, or a failing input stores nothing",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("taken")], now: T0 });
      // 180 sits inside a hundred-row statement, so the repeat is found within one statement.
      const repeated = store.jobInsertStream({
        batches: rowBatchesOf([ids("a", 150), [...ids("b", 30), newJob("a-120")]]),
        now: T0,
      });
      await expect(repeated).rejects.toBeInstanceOf(DuplicateIdError);
      await expect(repeated).rejects.toThrow('"a-120"');
      const clash = store.jobInsertStream({
        batches: rowBatchesOf([ids("c", 10), [newJob("taken")]]),
        now: T0,
      });
      await expect(clash).rejects.toThrow('"taken"');
      const failing = store.jobInsertStream({
        batches: rowBatchesOf([ids("d", 10), ids("e", 10)], 1),
        now: T0,
      });
      await expect(failing).rejects.toThrow("line 9");
      expect((await store.jobList({})).map((job) => job.id)).toEqual(["taken"]);
      // The store is usable after each rollback.
      await store.jobInsertMany({ jobs: [newJob("after")], now: T0 });
      expect((await store.jobCounts()).total).toBe(2);
    }),
  );

  test(
    "a streamed import applies settings and jobs batch by batch, refuses a repeat whole, and merges",
    withStore(async ({ store }) => {
      const batches = (): ImportBatch[] => [
        {
          jobs: [record("x", { spec: { id: "x", command: "echo x", after: ["y"] } })],
          settings: { config: { "max-retries": "7" }, queues: [], schedules: [] },
        },
        {
          jobs: [record("y", { state: "completed" })],
          settings: { config: {}, queues: [{ name: "q", concurrency: 2, paused: false }], schedules: [] },
        },
      ];
      const result = await store.jobImportStream({ batches: batchesOf(batches()) });
      expect(result).toEqual({
        jobsImported: 2,
        jobsSkipped: 0,
        jobsSkippedAsOccurrences: 0,
        schedulesImported: 0,
        schedulesSkipped: 0,
        queuesImported: 1,
        configImported: 1,
        missingDependencies: [],
        canceledAtOnce: [],
      });
      expect(await store.configGetAll()).toMatchObject({ "max-retries": "7" });
      // x waits for y, which completed, so x is claimable.
      const claimed = await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 60_000 });
      expect(claimed?.id).toBe("x");
      const again = store.jobImportStream({
        batches: batchesOf<ImportBatch>([{ jobs: [record("new")] }, { jobs: [record("y")] }]),
      });
      await expect(again).rejects.toThrow('"y"');
      expect(await store.jobGet({ id: "new" })).toBeNull();
      const merged = await store.jobImportStream({
        batches: batchesOf<ImportBatch>([{ jobs: [record("new")] }, { jobs: [record("y")] }]),
        merge: true,
      });
      expect(merged).toMatchObject({ jobsImported: 1, jobsSkipped: 1 });
    }),
  );

  test(
    "--merge of an archive that holds a job twice keeps the later line, and the store's own job over both",
    withStore(async ({ store }) => {
      await store.jobImportMany({ jobs: [record("mine", { last_error: "the store's" })] });
      const older = (id: string) => record(id, { state: "completed", attempts: 1, result: '"old"' });
      const newer = (id: string) => record(id, { state: "completed", attempts: 2, result: '"new"' });
      const merged = await store.jobImportStream({
        batches: batchesOf<ImportBatch>([
          // Twice in one batch, and once more in the next: an archive appended after each purge.
          { jobs: [older("a"), record("mine"), newer("a"), older("b")] },
          { jobs: [newer("b")] },
        ]),
        merge: true,
      });
      expect(merged).toMatchObject({ jobsImported: 2, jobsSkipped: 1 });
      for (const id of ["a", "b"]) {
        expect(await store.jobGet({ id })).toMatchObject({ attempts: 2, result: '"new"' });
      }
      expect(await store.jobGet({ id: "mine" })).toMatchObject({ last_error: "the store's" });
    }),
  );

  test(
    "--merge counts alike on both stores, and a replaced line's dependencies go with it",
    withStore(async ({ store }) => {
      await store.jobImportMany({ jobs: [record("x"), record("y"), record("gone", { state: "canceled" })] });
      // x twice and y once, all three kept out by the store's own jobs.
      const kept = await store.jobImportStream({
        batches: batchesOf<ImportBatch>([{ jobs: [record("x"), record("x"), record("y")] }]),
        merge: true,
      });
      expect(kept).toMatchObject({ jobsImported: 0, jobsSkipped: 3 });
      // w waited for a canceled job in its first line and for nothing in its later one.
      const waits = record("w", { spec: { id: "w", command: "echo w", after: ["gone"] } });
      const merged = await store.jobImportStream({
        batches: batchesOf<ImportBatch>([{ jobs: [waits] }, { jobs: [record("w")] }]),
        merge: true,
      });
      expect(merged).toMatchObject({ jobsImported: 1, jobsSkipped: 0, canceledAtOnce: [] });
      expect(await store.jobGet({ id: "w" })).toMatchObject({ state: "pending" });
    }),
  );

  test(
    "--merge never replaces a job another connection wrote while the import ran",
    withStore(async ({ store, another }) => {
      // SQLite's import holds the one write lock: no other writer can commit meanwhile.
      if (store.backend === "sqlite") return;
      const other = await another();
      async function* batches(): AsyncGenerator<ImportBatch> {
        yield { jobs: [record("filler")] };
        await other.jobInsertMany({ jobs: [newJob("k")], now: T0 });
        yield { jobs: [record("k", { state: "completed", last_error: "archived" })] };
      }
      const merged = await store.jobImportStream({ batches: batches(), merge: true });
      expect(merged).toMatchObject({ jobsImported: 1, jobsSkipped: 1 });
      expect(await store.jobGet({ id: "k" })).toMatchObject({ state: "pending", last_error: null });
    }),
  );
}
