/**
 * A bulk write into a SQLite store that nothing else has open goes through a rollback
 * journal rather than the WAL (src/store/sqlite/bulk-journal.ts): seen from inside the
 * transaction, at each batch. One another connection holds keeps the WAL, and that
 * connection reads on beside it. Either way the store is in WAL mode again after, the
 * commit is all or nothing, and a failed write leaves nothing and no journal behind.
 */

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { newJobRow } from "../../src/store/columns.ts";
import type { NewJobRow } from "../../src/store/records.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { JOURNAL_MAX_INPUT_BYTES } from "../../src/store/sqlite/bulk-journal.ts";
import { newJob, T0 } from "./contract-helpers.ts";

let dir = "";
let path = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-bulk-journal-"));
  path = join(dir, "jobs.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What a look from inside the bulk transaction found. */
interface Seen {
  journal: boolean;
  wal: boolean;
  /** Jobs another connection counted meanwhile, when one was given. */
  counted?: number;
}

/**
 * `batchCount` batches of 1,000 new jobs named `prefix-…`, looking at the files beside the
 * store before each batch after the first, and counting jobs through `reader` if given; a
 * batch of `failAt` throws a bad-line error instead.
 */
async function* batches(
  prefix: string,
  batchCount: number,
  seen: Seen[],
  reader?: Database,
  failAt?: number,
): AsyncGenerator<NewJobRow[]> {
  for (let batch = 0; batch < batchCount; batch++) {
    if (batch > 0) {
      seen.push({
        journal: existsSync(`${path}-journal`),
        wal: existsSync(`${path}-wal`),
        counted: reader
          ? (reader.query("SELECT count(*) AS n FROM jobs").get() as { n: number }).n
          : undefined,
      });
    }
    if (batch === failAt) throw new UserError(`jobs.ndjson, line ${batch * 1000 + 1}: bad line`, "fix it");
    yield Array.from({ length: 1000 }, (_, row) => newJobRow(newJob(`${prefix}-${batch}-${row}`)));
  }
}

function journalMode(): string {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode;
  } finally {
    db.close();
  }
}

test("alone, a bulk write goes through a rollback journal, and the store is in WAL mode again after", async () => {
  const store = new SqliteStore(path);
  try {
    await store.jobInsertMany({ jobs: [newJob("before")], now: T0 });
    const seen: Seen[] = [];
    const inputBytes = 4000 * 40;
    expect(await store.jobInsertStream({ batches: batches("bulk", 4, seen), now: T0, inputBytes })).toBe(
      4000,
    );
    expect(seen).toEqual(Array(3).fill({ journal: true, wal: false }));
    expect((await store.jobCounts()).total).toBe(4001);
    // A later write of this same connection goes to the WAL again.
    await store.jobInsertMany({ jobs: [newJob("after")], now: T0 });
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-journal`)).toBe(false);
  } finally {
    await store.close();
  }
  expect(journalMode()).toBe("wal");
});

test("a failed bulk write rolls back through its journal: nothing of it stays, nor the journal", async () => {
  const store = new SqliteStore(path);
  try {
    await store.jobInsertMany({ jobs: [newJob("before")], now: T0 });
    const seen: Seen[] = [];
    const stream = { batches: batches("bulk", 4, seen, undefined, 3), now: T0, inputBytes: 4000 * 40 };
    await expect(store.jobInsertStream(stream)).rejects.toThrow("line 3001");
    expect(seen.every((look) => look.journal)).toBe(true);
    expect((await store.jobCounts()).total).toBe(1);
    expect(existsSync(`${path}-journal`)).toBe(false);
    expect((store.database.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
  } finally {
    await store.close();
  }
  expect(journalMode()).toBe("wal");
});

test("a store another connection holds keeps its WAL through a bulk write, and that connection reads on", async () => {
  const store = new SqliteStore(path);
  const other = new Database(path, { strict: true });
  try {
    await store.jobInsertMany({ jobs: [newJob("before")], now: T0 });
    other.run("PRAGMA busy_timeout = 0");
    // Its first read makes it a reader of the WAL, as a worker's or the dashboard's is.
    other.query("SELECT count(*) FROM jobs").get();
    const seen: Seen[] = [];
    const stream = { batches: batches("bulk", 4, seen, other), now: T0, inputBytes: 4000 * 40 };
    expect(await store.jobInsertStream(stream)).toBe(4000);
    // With no busy wait at all, each read saw the last commit, not the write under way.
    expect(seen).toEqual(Array(3).fill({ journal: false, wal: true, counted: 1 }));
    expect((other.query("SELECT count(*) AS n FROM jobs").get() as { n: number }).n).toBe(4001);
  } finally {
    other.close();
    await store.close();
  }
  expect(journalMode()).toBe("wal");
});

test("an input larger than the journal's bound, or of unknown size, keeps the WAL: readers opening meanwhile never wait", async () => {
  const store = new SqliteStore(path);
  try {
    for (const [run, inputBytes] of [JOURNAL_MAX_INPUT_BYTES + 1, undefined].entries()) {
      const seen: Seen[] = [];
      expect(
        await store.jobInsertStream({ batches: batches(`bulk${run}`, 3, seen), now: T0, inputBytes }),
      ).toBe(3000);
      expect(seen).toEqual(Array(2).fill({ journal: false, wal: true }));
    }
  } finally {
    await store.close();
  }
});
