/** The store contract on SQLite: a fresh temp file for every test. */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { storeContract } from "./contract.ts";
import { newJob, T0 } from "./contract-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "queuectl-contract-"));
let count = 0;

storeContract({
  name: "sqlite",
  async create() {
    const path = join(root, `store-${++count}.db`);
    return {
      open: async () => new SqliteStore(path),
      async exec(statement) {
        const db = new Database(path);
        try {
          db.run("PRAGMA busy_timeout = 5000");
          db.run(statement);
        } finally {
          db.close();
        }
      },
    };
  },
  async cleanup() {
    rmSync(root, { recursive: true, force: true });
  },
});

describe("bulk input on SQLite", () => {
  const tempStore = (store: SqliteStore) =>
    (store.database.query("PRAGMA temp_store").get() as { temp_store: number }).temp_store;

  test("a streamed insert journals in memory, and the default comes back after it ends or fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-stream-"));
    const store = new SqliteStore(join(dir, "jobs.db"));
    try {
      const during: number[] = [];
      async function* batches(fail: boolean) {
        during.push(tempStore(store));
        yield [newJob(`job-${during.length}`)];
        if (fail) throw new UserError("jobs.ndjson, line 2: bad line", "fix it");
      }
      expect(await store.jobInsertStream({ batches: batches(false), now: T0 })).toBe(1);
      expect(tempStore(store)).toBe(0);
      await expect(store.jobInsertStream({ batches: batches(true), now: T0 })).rejects.toThrow("line 2");
      // MEMORY is 2; the default (0) lets sorts of large reads spill to disk again.
      expect(during).toEqual([2, 2]);
      expect(tempStore(store)).toBe(0);
      expect((await store.jobCounts()).total).toBe(1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a SQLite file replaced while open", () => {
  test("its old WAL is set aside on close, so the next open reads the new file as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-replaced-"));
    const path = join(dir, "jobs.db");
    try {
      const running = new SqliteStore(path);
      await running.jobInsertMany({ jobs: [newJob("orig")], now: T0 });
      const other = new SqliteStore(join(dir, "new.db"));
      await other.jobInsertMany({ jobs: [newJob("replacement")], now: T0 });
      await other.close();
      renameSync(join(dir, "new.db"), path);
      await expect(running.jobInsertMany({ jobs: [newJob("late")], now: T0 })).rejects.toThrow(
        "was deleted or replaced",
      );
      await running.close();
      expect(readdirSync(dir).some((name) => name.startsWith("jobs.db-wal.replaced-"))).toBe(true);
      const reopened = new SqliteStore(path);
      try {
        expect((await reopened.jobList({})).map((job) => job.id)).toEqual(["replacement"]);
        expect(reopened.database.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
