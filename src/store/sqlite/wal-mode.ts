/**
 * Turning a store to WAL mode when it opens. Two processes that open a new store at the same
 * moment (two watchers, a worker and an `enqueue`, a script's first calls run side by side)
 * both ask for it, and the first one's change needs the file to itself for a moment. SQLite
 * answers the other with SQLITE_BUSY at once, without waiting out its busy timeout as it
 * does for any other lock: 9 of 80 such openers failed with "stayed locked" on a two-core
 * machine. So the request is tried again until that timeout has passed.
 */

import { type Database, SQLiteError } from "bun:sqlite";

/** Between two tries: the other opener holds the file for the few milliseconds of its change. */
const RETRY_PAUSE_MS = 5;

function isBusy(error: unknown): boolean {
  return error instanceof SQLiteError && String(error.code ?? "").startsWith("SQLITE_BUSY");
}

/** `PRAGMA journal_mode = WAL`, tried again while another opener holds the file, for up to `busyTimeoutMs`. */
export function enableWal(db: Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.run("PRAGMA journal_mode = WAL");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      Bun.sleepSync(RETRY_PAUSE_MS);
    }
  }
}
