/**
 * The SQLite file: opening it, read-write when possible and read-only when that is all the
 * file system or the permissions allow (so that `status`, `list`, `show`, `logs` and `export`
 * still work on a read-only disk, a backup mounted read-only, or someone else's queue), its
 * write transactions, and its failures turned into one-line messages users can act on.
 */

import { Database, SQLiteError } from "bun:sqlite";
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import { runtimeError, StoreGoneError, UserError } from "../../core/errors.ts";
import { type BulkJournal, putBackJournal, takeBulkJournal } from "./bulk-journal.ts";
import { isReadOnlyFailure, openReadOnly } from "./read-only-open.ts";
import { notQueueDatabase, SQLITE_SCHEMA_VERSION, schemaOnOpen } from "./schema-version.ts";
import type { WalCheckpointer } from "./wal-checkpointer.ts";
import { enableWal } from "./wal-mode.ts";

export interface SqliteOptions {
  /**
   * `FULL` makes every commit durable across an OS crash; `NORMAL` (default for workers)
   * survives any process crash and may lose the last commits on power loss. Default FULL.
   */
  synchronous?: "FULL" | "NORMAL";
  /**
   * How long a writer waits for the lock before giving up, in ms. Default
   * `$QUEUECTL_SQLITE_BUSY_TIMEOUT_MS`, else 15000.
   */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL on a thread of its own instead of inside a commit (wal-checkpointer.ts),
   * for a worker's long run of small commits. Default false.
   */
  checkpointInBackground?: boolean;
}

export interface SqliteConnection {
  db: Database;
  /** The file's path, for messages. */
  location: string;
  /** Why writes cannot succeed (e.g. "on a read-only file system"), or null when they can. */
  readOnly: string | null;
  /** The file as opened (device and inode), to notice it being deleted or replaced. */
  identity: string | null;
  /** Its WAL as opened, to tell it from a WAL that belongs to a file put in its place. */
  walIdentity: string | null;
  /** Set when checkpoints run on their own thread; told of every commit. */
  checkpointer: WalCheckpointer | null;
}

const DEFAULT_BUSY_TIMEOUT_MS = 15_000;

/** 16 MB of page cache keeps the claim index and hot rows of a 100k-job queue in memory. */
const CACHE_KIB = 16_000;

/** Bulk input's page cache: its pages are written once, so more only grows the process (bench/RESULTS.md). */
const STREAM_CACHE_KIB = 1_000;

/**
 * The environment can shorten the wait so that a test (or a script that would rather fail
 * fast than queue behind a long writer) need not sit out 15 s.
 */
function defaultBusyTimeoutMs(): number {
  const text = process.env.QUEUECTL_SQLITE_BUSY_TIMEOUT_MS;
  if (text === undefined || text === "") return DEFAULT_BUSY_TIMEOUT_MS;
  if (!/^\d{1,9}$/.test(text))
    throw new UserError(
      `QUEUECTL_SQLITE_BUSY_TIMEOUT_MS=${text} is not a whole number of milliseconds`,
      "set it to e.g. 15000, or unset it for the default",
    );
  return Number(text);
}

export function openConnection(path: string, options: SqliteOptions = {}): SqliteConnection {
  const { db, readOnly } = withFailures(path, () => openDatabase(path, options));
  const checkpointer =
    options.checkpointInBackground && readOnly === null ? startCheckpointer(db, path) : null;
  const identity = fileIdentity(path);
  return { db, location: path, readOnly, identity, walIdentity: fileIdentity(`${path}-wal`), checkpointer };
}

/**
 * After closing a database that was deleted or replaced while it was open. SQLite leaves that
 * file's WAL at the path, and whatever opens the path next would replay it into the file that
 * is there now: the old queue's pages written over the new one's. So the WAL (still the one
 * opened with it: a new file's own WAL is left alone) is moved aside, named for the time, and
 * its index removed; nothing reads the old file's last commits through this path any more.
 */
export function setAsideReplacedWal(connection: SqliteConnection): void {
  const { location, identity, walIdentity } = connection;
  if (identity === null || walIdentity === null || fileIdentity(location) === identity) return;
  const wal = `${location}-wal`;
  if (fileIdentity(wal) !== walIdentity) return;
  try {
    renameSync(wal, `${wal}.replaced-${Date.now()}`);
    rmSync(`${location}-shm`, { force: true });
  } catch {
    // Gone since, or the folder is read-only now: nothing more can be done from here.
  }
}

/** Workers alone checkpoint on a thread, so other commands do not load its module. */
function startCheckpointer(db: Database, path: string): WalCheckpointer {
  const { WalCheckpointer } = require("./wal-checkpointer.ts") as typeof import("./wal-checkpointer.ts");
  return new WalCheckpointer(db, path);
}

function openDatabase(path: string, options: SqliteOptions): { db: Database; readOnly: string | null } {
  try {
    const db = openReadWrite(path, options);
    return { db, readOnly: whyReadOnly(path) };
  } catch (error) {
    if (!isReadOnlyFailure(error) || !isFile(path)) throw error;
    try {
      return {
        db: openReadOnly(path, options.busyTimeoutMs ?? defaultBusyTimeoutMs()),
        readOnly: whyReadOnly(path) ?? "opened read-only",
      };
    } catch (readOnlyError) {
      // A schema it cannot read says so; anything else is better told by the first failure.
      throw readOnlyError instanceof UserError ? readOnlyError : error;
    }
  }
}

function openReadWrite(path: string, options: SqliteOptions): Database {
  createPrivately(path);
  const db = new Database(path, { create: true, strict: true });
  try {
    const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs();
    db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    // Read before anything is written: a mistyped --db naming another program's database is
    // refused as it was, not turned to WAL mode first.
    const found = schemaOnOpen(db);
    if (found.kind === "foreign") throw notQueueDatabase(path, found.reason);
    enableWal(db, busyTimeoutMs);
    db.run(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
    db.run("PRAGMA foreign_keys = ON");
    db.run(`PRAGMA cache_size = -${CACHE_KIB}`);
    if (found.kind === "empty" || found.version !== SQLITE_SCHEMA_VERSION) {
      // Loaded here, not at the top: see schema-version.ts.
      const { migrateSchema } = require("./migrations.ts") as typeof import("./migrations.ts");
      migrateSchema(db, path);
    }
    // Only now that it is known to be a queue: a mistyped --db naming some other file is left as it was.
    tightenMode(path);
    return db;
  } catch (error) {
    db.close(false);
    throw error;
  }
}

/**
 * A new database file is made 0600 before SQLite opens it. SQLite gives the `-wal` and `-shm`
 * files it creates the mode of the database file, and a worker keeps them for as long as it
 * runs: made under the umask (0644, say), every job's spec, env and output tail would pass
 * through a WAL other local users can read. An existing file is left to tightenMode.
 */
function createPrivately(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch {
    // There already, or not creatable here: SQLite's own open says what is wrong.
  }
}

/**
 * Tighten only: a file the user made read-only (0400) stays read-only. The `-wal` and `-shm`
 * files too, when a store made before they were created 0600 left them open to others.
 */
function tightenMode(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o077) !== 0) chmodSync(file, mode & 0o700);
    } catch {
      // Absent, a read-only file system or someone else's file: the queue still opens as it can.
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Why the database at `path` cannot be written, in words for an error message, or null when
 * it can: the file system is mounted read-only, or the user may not write the file or the
 * folder its journal files live in.
 */
function whyReadOnly(path: string): string | null {
  for (const [target, what] of [
    [path, "the file"],
    [dirname(path), "its folder"],
  ] as const) {
    try {
      if (existsSync(target)) accessSync(target, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EROFS") return "on a read-only file system";
      if (code === "EACCES" || code === "EPERM") return `you may not write ${what}`;
    }
  }
  return null;
}

/** Runs `work`, turning a SQLite failure into a one-line message (exit code 1). */
export function withFailures<T>(location: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw describeFailure(location, error);
  }
}

export function describeFailure(location: string, error: unknown): Error {
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
 * works. `why` comes from whyReadOnly.
 */
function readOnlyError(location: string, why: string | null): UserError {
  return runtimeError(
    `the database ${location} is read-only${why ? ` (${why})` : ""}`,
    "this command changes the queue; status, list, show, logs and export still work; remount it read-write or fix the permissions to change it",
  );
}

/** Device and inode of the file at `path`, or null when nothing is there. */
function fileIdentity(path: string): string | null {
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
function assertSameFile(location: string, identity: string | null): void {
  if (identity !== null && fileIdentity(location) !== identity) {
    throw new StoreGoneError(
      `the database ${location} was deleted or replaced while this process had it open`,
      "start it again (queuectl worker start) so that it opens the file that is there now",
    );
  }
}

/** Nothing may be written to a read-only file, nor to one that was deleted or replaced. */
function assertWritable(connection: SqliteConnection): void {
  if (connection.readOnly !== null) throw readOnlyError(connection.location, connection.readOnly);
  assertSameFile(connection.location, connection.identity);
}

/** One IMMEDIATE transaction: the write lock is taken first, so reads inside it cannot go stale. */
export function writeTransaction<T>(connection: SqliteConnection, work: () => T): T {
  return withFailures(connection.location, () => {
    assertWritable(connection);
    const result = connection.db.transaction(work).immediate();
    connection.checkpointer?.noteCommit();
    return result;
  });
}

/**
 * One IMMEDIATE transaction held open while `work` awaits its input, for bulk input that
 * streams from a file instead of sitting in memory. The write lock is held meanwhile, as
 * it is for any bulk insert, and nothing else may write through this store until it ends.
 */
export async function streamTransaction<T>(
  connection: SqliteConnection,
  work: () => Promise<T>,
  inputBytes?: number,
): Promise<T> {
  const { db, location } = connection;
  if (connection.readOnly !== null) throw readOnlyError(location, connection.readOnly);
  let journal: BulkJournal | null = null;
  try {
    assertSameFile(location, connection.identity);
    // A bulk INSERT of a hundred rows journals more than SQLite keeps in memory for a
    // statement, so each statement's undo pages went to a temporary file: 33,000 writes
    // for 100,000 jobs. Kept in memory they cost a page per touched page; set outside
    // the transaction because SQLite refuses to change it inside one.
    db.run(`PRAGMA temp_store = MEMORY; PRAGMA cache_size = -${STREAM_CACHE_KIB}`);
    // Not in a worker, whose connection lives on and checkpoints on its own thread.
    if (connection.checkpointer === null) journal = takeBulkJournal(db, inputBytes);
    db.run("BEGIN IMMEDIATE");
    const result = await work();
    db.run("COMMIT");
    connection.checkpointer?.noteCommit();
    return result;
  } catch (error) {
    if (db.inTransaction) db.run("ROLLBACK");
    if (error instanceof UserError) throw error;
    throw describeFailure(location, error);
  } finally {
    // Sorts of large reads spill to disk again rather than grow the process.
    if (!db.inTransaction) db.run(`PRAGMA temp_store = DEFAULT; PRAGMA cache_size = -${CACHE_KIB}`);
    if (journal !== null && !db.inTransaction) putBackJournal(db, journal, defaultBusyTimeoutMs());
  }
}
