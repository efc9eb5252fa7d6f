/**
 * A worker's SQLite connection checkpoints its WAL on a thread of its own
 * (src/store/sqlite/wal-checkpointer.ts). What must hold: the thread's checkpoints reach
 * the database file without any commit of the owner doing it, the owner's own threshold
 * stays high so its commits are not the ones that stall, and closing the store leaves no
 * WAL behind (the thread's connection is closed first).
 */

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import {
  COMMITS_PER_CHECKPOINT,
  FALLBACK_AUTOCHECKPOINT_PAGES,
  WalCheckpointer,
} from "../../src/store/sqlite/wal-checkpointer.ts";
import { waitFor } from "../helpers/cli.ts";
import { newJob, T0 } from "./contract-helpers.ts";

let root: string;
let path: string;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "queuectl-checkpoint-"));
  path = join(root, "jobs.db");
  // Created and closed once, so the schema is in the database file before any test writes.
  await new SqliteStore(path).close();
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Jobs as the database file alone holds them: `immutable` reads no WAL. */
function jobsInDatabaseFile(): number {
  // SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, which bun:sqlite takes as a number.
  const reader = new Database(`file:${path}?immutable=1`, 0x1 | 0x40);
  try {
    return (reader.query("SELECT COUNT(*) AS n FROM jobs").get() as { n: number }).n;
  } finally {
    reader.close(false);
  }
}

async function insertOneJobPerCommit(store: SqliteStore, count: number, prefix = "job"): Promise<void> {
  for (let i = 0; i < count; i++) {
    await store.jobInsertMany({ jobs: [newJob(`${prefix}-${i}`)], now: T0 });
  }
}

describe("WAL checkpoints on their own thread", () => {
  test("commits reach the database file through the thread, not through the owner's commits", async () => {
    const store = new SqliteStore(path, { synchronous: "NORMAL", checkpointInBackground: true });
    try {
      const checkpointer = store.checkpointer;
      if (!checkpointer) throw new Error("the store was opened without its checkpoint thread");
      const threshold = store.database.query("PRAGMA wal_autocheckpoint").get() as Record<string, number>;
      expect(Object.values(threshold)[0]).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);

      await insertOneJobPerCommit(store, COMMITS_PER_CHECKPOINT - 1);
      // Far below any threshold, nothing has asked for a checkpoint yet.
      expect(jobsInDatabaseFile()).toBe(0);

      await insertOneJobPerCommit(store, 1, "last");
      await checkpointer.settled();
      expect(checkpointer.lastFailure).toBeNull();
      expect(jobsInDatabaseFile()).toBe(COMMITS_PER_CHECKPOINT);
    } finally {
      await store.close();
    }
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  test("without the option no thread runs and SQLite keeps its own threshold", async () => {
    const store = new SqliteStore(path, { synchronous: "NORMAL" });
    try {
      expect(store.checkpointer).toBeNull();
      const threshold = store.database.query("PRAGMA wal_autocheckpoint").get() as Record<string, number>;
      expect(Object.values(threshold)[0]).toBe(1000);
      await insertOneJobPerCommit(store, COMMITS_PER_CHECKPOINT);
      expect(jobsInDatabaseFile()).toBe(0);
    } finally {
      await store.close();
    }
  });

  test("a thread that cannot open the database hands the WAL back to SQLite's own threshold", async () => {
    const db = new Database(path);
    const checkpointer = new WalCheckpointer(db, join(root, "no-such-folder", "jobs.db"));
    try {
      const threshold = () => Object.values(db.query("PRAGMA wal_autocheckpoint").get() as object)[0];
      await waitFor(() => checkpointer.lastFailure, { what: "the thread's failed open" });
      expect(threshold()).toBe(1000);
    } finally {
      await checkpointer.stop();
      db.close(false);
    }
  });
});
