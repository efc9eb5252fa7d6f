/** The store contract on SQLite: a fresh temp file for every test. */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
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
