/**
 * Picks the backend from a URL: `postgres://…` (or `postgresql://…`) for PostgreSQL,
 * `sqlite://PATH` or a plain path for SQLite. The default is `$QUEUECTL_HOME/jobs.db`.
 */

import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { ensureHome, queuectlHome } from "../core/home.ts";
import { refuseForeignJournal } from "./foreign-journal.ts";
import { SqliteStore } from "./sqlite/backend.ts";
import type { Store } from "./store.ts";

export interface OpenOptions {
  /** `--db`, then QUEUECTL_DB, then `$QUEUECTL_HOME/jobs.db`. */
  url?: string;
  /**
   * Per-process durability for SQLite: `FULL` (default) syncs every commit to disk; workers
   * pass `NORMAL`, since a lost completion after power loss only means one more run.
   */
  synchronous?: "FULL" | "NORMAL";
  /** SQLite: checkpoint the WAL on a thread of its own, as workers do. Default false. */
  checkpointInBackground?: boolean;
  /**
   * PostgreSQL connections in this process's pool (default 1: a command runs one statement at
   * a time). A worker's claim loop overlaps its lease renewal and maintenance, the dashboard
   * answers requests at once, and a watcher's heartbeat overlaps its syncs, so those ask for
   * LONG_RUNNING_CONNECTIONS. SQLite ignores it.
   */
  connections?: number;
  /**
   * Refuse a named SQLite file that does not exist yet instead of creating an empty queue
   * (commands that only read: a mistyped path must not look like a queue with no jobs).
   * The home's own jobs.db is exempt: a fresh install's first `status` shows an empty queue.
   * On PostgreSQL, a schema without a queue is refused the same way. Default false.
   */
  mustExist?: boolean;
  /**
   * Runs before a new queue would be made: a named SQLite file that does not exist (not the
   * home's own jobs.db), or a PostgreSQL schema with no queue. A command checks its input
   * there, so that input it refuses leaves no empty queue behind, which `status` at a maybe
   * mistyped place would show as if it were real. Default none.
   */
  beforeCreate?: () => unknown;
  /**
   * PostgreSQL: the server ends a transaction of this process that waits this long (ms) for
   * its next statement, and with it the row locks it held. Workers set WORKER_IDLE_IN_TRANSACTION_MS,
   * since their transactions never wait on anything but the server; commands that stream
   * their input (`enqueue -f -`, `import`) may wait on a slow writer, and set none. Default none.
   */
  idleInTransactionMs?: number;
  /**
   * PostgreSQL: a statement that waits this long (ms) for a lock fails with one line, as a
   * SQLite write fails after its busy timeout. Default LOCK_TIMEOUT_MS; workers pass null and
   * wait, since their writes retry on their own and a failure would cost a run its record.
   */
  lockTimeoutMs?: number | null;
}

/** A worker's transactions end within milliseconds; one left open this long (60 s) has a frozen or lost worker. */
export const WORKER_IDLE_IN_TRANSACTION_MS = 60_000;

/** How long a command waits for a row another transaction holds on PostgreSQL (15 s, SQLite's busy timeout). */
export const LOCK_TIMEOUT_MS = 15_000;

/** The pool a long-running process asks for (worker run, dashboard, watch); see `connections`. */
export const LONG_RUNNING_CONNECTIONS = 2;

export function resolveStoreUrl(url?: string): string {
  // The command line's parser hands `--db 5` over as the number 5: a file named "5".
  const chosen = url === undefined || url === null ? process.env.QUEUECTL_DB : String(url);
  if (chosen === undefined) return join(queuectlHome(), "jobs.db");
  // As --db '' is refused: `QUEUECTL_DB="$URL"` with URL unset must not mean the default queue.
  if (chosen.trim() === "") {
    const name = url === undefined || url === null ? "QUEUECTL_DB is set but" : "--db is";
    throw new UserError(
      `${name} empty`,
      "give a file path or postgres://…, or leave it out for the default store",
    );
  }
  return chosen.trim();
}

/**
 * A store location as an error shows it: the password of anything shaped `user:password@`
 * (a URL with a mistyped scheme, or one with a slash missing, read as a path) is masked.
 * Errors land in terminals, CI logs and worker logs.
 */
export function withoutPassword(text: string): string {
  // Up to the last @ before the host, as a URL parser reads it: a password may hold an @.
  return text.replace(/(^|\/)([^/:@\s]*):([^/\s]+)@/g, "$1$2:***@");
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Where a store URL points, without opening it: PostgreSQL's URL, or SQLite's file made
 * absolute. Any other scheme is refused, so a typo never becomes a file named `mysql:`.
 */
export function storeTarget(url: string): { postgres: string } | { sqlite: string } {
  if (isPostgresUrl(url)) return { postgres: url };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("sqlite://")) {
    throw new UserError(
      `unsupported database URL "${withoutPassword(url)}"`,
      "use a file path, sqlite://PATH or postgres://…",
    );
  }
  const path = url.startsWith("sqlite://") ? url.slice("sqlite://".length) : url;
  // resolve("") is the current folder, which SQLite cannot open as a file.
  if (path.trim() === "")
    throw new UserError(
      `the database URL "${withoutPassword(url)}" names no file`,
      "e.g. sqlite:///var/lib/queuectl/jobs.db",
    );
  return { sqlite: resolve(path) };
}

export async function openStore(options: OpenOptions = {}): Promise<Store> {
  const target = storeTarget(resolveStoreUrl(options.url));
  if ("postgres" in target) {
    const { openPostgresStore } = await import("./postgres/backend.ts");
    return openPostgresStore(target.postgres, options.connections, {
      mustExist: options.mustExist,
      limits: {
        idleInTransactionMs: options.idleInTransactionMs ?? null,
        lockTimeoutMs: options.lockTimeoutMs === undefined ? LOCK_TIMEOUT_MS : options.lockTimeoutMs,
      },
      beforeCreate: options.beforeCreate,
    });
  }
  const path = target.sqlite;
  if (dirname(path) === queuectlHome()) {
    try {
      ensureHome();
    } catch (error) {
      // A home that exists but cannot be tightened (a read-only disk, someone else's folder)
      // may still be read; opening the database says what is possible.
      if (!existsSync(dirname(path)) || error instanceof UserError) throw error;
    }
  } else if (!existsSync(dirname(path))) {
    // A mistyped --db must not silently start an empty queue in a new folder tree.
    throw new UserError(
      `the folder ${withoutPassword(dirname(path))} for the database does not exist`,
      "create it first, or fix the path",
    );
  }
  // A path the user named (not the home's own jobs.db, whose damage is no typo) must name a queue.
  if (path !== join(queuectlHome(), "jobs.db")) {
    refuseNonDatabase(path);
    if (options.mustExist && !existsSync(path)) {
      throw new UserError(
        `there is no queue at ${withoutPassword(path)}: the file does not exist`,
        "check --db or QUEUECTL_DB; a queue's file is made by its first enqueue, add, sync or worker",
      );
    }
    if (options.beforeCreate && !existsSync(path)) await options.beforeCreate();
  }
  refuseForeignJournal(path);
  return new SqliteStore(path, {
    synchronous: options.synchronous,
    checkpointInBackground: options.checkpointInBackground,
  });
}

/** A folder, or a file that is not SQLite's, given as the store: a typo, refused before SQLite opens it. */
function refuseNonDatabase(path: string): void {
  let header: string;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) {
      throw new UserError(
        `the database ${withoutPassword(path)} is a folder, not a file`,
        `name a file in it, e.g. --db ${join(path, "jobs.db")}`,
      );
    }
    // A FIFO would block the read below until something writes to it; a device is no database.
    if (!stats.isFile()) {
      throw new UserError(
        `the database ${withoutPassword(path)} is not a regular file (a named pipe, a device or a socket)`,
        "check --db or QUEUECTL_DB: it names the queue's database file, e.g. ~/.queuectl/jobs.db",
      );
    }
    header = readPrefix(path, SQLITE_HEADER.length);
  } catch (error) {
    if (error instanceof UserError) throw error;
    return; // Missing or unreadable: opening it says what is possible.
  }
  // An empty file is what SQLite makes a new database of.
  if (header !== "" && header !== SQLITE_HEADER) {
    throw new UserError(
      `${withoutPassword(path)} is not a SQLite database`,
      "check --db or QUEUECTL_DB: it names the queue's database file, e.g. ~/.queuectl/jobs.db",
    );
  }
}

const SQLITE_HEADER = "SQLite format 3\0";

function readPrefix(path: string, length: number): string {
  const fd = openSync(path, "r");
  try {
    const bytes = Buffer.alloc(length);
    return bytes.subarray(0, readSync(fd, bytes, 0, length, 0)).toString("latin1");
  } finally {
    closeSync(fd);
  }
}
