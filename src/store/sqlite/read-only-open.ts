/**
 * Opening a SQLite store the user may read but not write (another user's queue, a read-only
 * mount), for the commands that only read: status, list, show, logs, export.
 */

import { Database, SQLiteError } from "bun:sqlite";
import { runtimeError } from "../../core/errors.ts";
import { assertCurrentSchema } from "./schema-version.ts";

// bun:sqlite takes SQLITE_OPEN_* flags as a number; URI filenames need SQLITE_OPEN_URI.
const SQLITE_OPEN_READONLY = 0x1;
const SQLITE_OPEN_URI = 0x40;

/**
 * A WAL database needs its `-shm` file to be read. `mode=ro` uses one that exists (a worker
 * elsewhere still has the file open); when none exists and none can be created, the file
 * is opened `immutable`, which reads the database file alone: what the last checkpoint wrote,
 * which after a clean shutdown is everything.
 */
export function openReadOnly(path: string, busyTimeoutMs: number): Database {
  const uri = `file:${path.replace(/[%?#]/g, (ch) => encodeURIComponent(ch))}`;
  const attempts = ["mode=ro", "immutable=1"];
  for (const [index, parameter] of attempts.entries()) {
    let db: Database | undefined;
    try {
      db = new Database(`${uri}?${parameter}`, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      assertCurrentSchema(db, path);
      return db;
    } catch (error) {
      db?.close(false);
      // A write killed through a rollback journal (bulk-journal.ts) left the file half done:
      // `immutable` would read it so. Only a connection that may write can play it back.
      if (String((error as SQLiteError).code ?? "") === "SQLITE_READONLY_ROLLBACK")
        throw runtimeError(
          `the database ${path} holds an unfinished write (${path}-journal) that this user cannot roll back`,
          "run any queuectl command on it as its owner, then read it again",
        );
      if (index === attempts.length - 1 || !isReadOnlyFailure(error)) throw error;
    }
  }
  throw new Error("unreachable: the last attempt rethrows");
}

export function isReadOnlyFailure(error: unknown): boolean {
  if (!(error instanceof SQLiteError)) return false;
  const code = String(error.code ?? "");
  return (
    code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM")
  );
}
