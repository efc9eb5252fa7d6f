/** Turns bun:sqlite failures into one-line messages users can act on (exit code 1). */

import { SQLiteError } from "bun:sqlite";
import { statSync } from "node:fs";
import { runtimeError, StoreGoneError, UserError } from "../../core/errors.ts";
import { whyReadOnly } from "./open-database.ts";

export function translateSqliteError<T>(location: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw describeSqliteError(location, error);
  }
}

export function describeSqliteError(location: string, error: unknown): Error {
  if (!(error instanceof SQLiteError) && !(error instanceof Error && "code" in error)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const code = String((error as { code?: string }).code ?? "");
  const message = (error as Error).message;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return runtimeError(
      `the database ${location} stayed locked by another process`,
      "retry; if it persists, look for a hung queuectl process",
    );
  }
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return runtimeError(
      `the database ${location} is corrupt or not a queuectl database (${message})`,
      "move the file aside and restore a backup, or point QUEUECTL_DB at another file",
    );
  }
  const readOnly = code.startsWith("SQLITE_CANTOPEN") ? whyReadOnly(location) : null;
  if (readOnly !== null) {
    return runtimeError(
      `cannot open the database ${location} (${readOnly})`,
      "create the queue where you can write, or point QUEUECTL_DB or --db at a database that exists",
    );
  }
  if (
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_PERM") ||
    code.startsWith("SQLITE_AUTH")
  ) {
    return runtimeError(
      `cannot open the database ${location} (${message})`,
      "check that the folder exists and that you may read and write it",
    );
  }
  if (code.startsWith("SQLITE_READONLY")) return readOnlyError(location, whyReadOnly(location));
  if (code.startsWith("SQLITE_FULL") || code.startsWith("SQLITE_IOERR")) {
    return runtimeError(
      `cannot write the database ${location}: ${message}`,
      "free disk space or fix the disk, then retry; nothing stored was lost",
    );
  }
  return error as Error;
}

/**
 * A write to a database that cannot be written: one line saying why, and that reading still
 * works. `why` comes from open-database.ts's whyReadOnly.
 */
export function readOnlyError(location: string, why: string | null): UserError {
  return runtimeError(
    `the database ${location} is read-only${why ? ` (${why})` : ""}`,
    "this command changes the queue; status, list, show, logs and export still work; remount it read-write or fix the permissions to change it",
  );
}

/** Device and inode of the file at `path`, or null when nothing is there. */
export function fileIdentity(path: string): string | null {
  try {
    const stats = statSync(path);
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return null;
  }
}

/**
 * SQLite keeps writing to a database file that was deleted or replaced while it was open,
 * where no other process will ever read it. Each write checks first, so a worker whose
 * file is gone says so instead of running jobs nobody can see.
 */
export function assertSameFile(location: string, identity: string | null): void {
  if (identity !== null && fileIdentity(location) !== identity) {
    throw new StoreGoneError(
      `the database ${location} was deleted or replaced while this process had it open`,
      "start it again (queuectl worker start) so that it opens the file that is there now",
    );
  }
}
