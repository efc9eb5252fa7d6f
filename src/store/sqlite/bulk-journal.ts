/**
 * A bulk write (`enqueue -f`, `import`) into a store that no other process has open goes
 * through a rollback journal instead of the WAL. In WAL mode each of its pages is written
 * twice: into the WAL by the commit, then into the database by the checkpoint that commit
 * sets off, which took 140 ms of the 600 of `enqueue -f` of 100,000 jobs (bench/RESULTS.md).
 * With a rollback journal the new pages go to the database once, and only the few pages
 * that were there before are copied to the journal first.
 *
 * Only the one connection a database has can take it out of WAL mode, so a store that a
 * worker, a watcher or the dashboard holds open keeps its WAL and their reads go on beside
 * the bulk write. A command that opens the store during it waits for it to end, reads too
 * (every opener turns WAL mode on, which needs the file to itself), so only an input of at
 * most JOURNAL_MAX_INPUT_BYTES takes this path: a few seconds at most even on a slow VM,
 * well within the 15 s busy timeout; a larger one, or one of unknown size, keeps the WAL.
 *
 * Durability stays as it was: the commit of a DELETE-mode transaction is the journal's
 * removal, and synchronous=EXTRA syncs the folder after it, where FULL would leave a power
 * cut able to bring the journal back and roll the commit back. A SIGKILL at any moment
 * leaves a journal that the next opener of the store plays back (all or nothing), and every
 * opener turns WAL mode on again (connection.ts).
 */

import { type Database, SQLiteError } from "bun:sqlite";
import { enableWal } from "./wal-mode.ts";

/**
 * The largest input written through a journal: 16 MiB, about 250,000 short jobs, which took
 * 1.5 s on a VM whose 100,000 took 0.5 s.
 */
export const JOURNAL_MAX_INPUT_BYTES = 16 * 2 ** 20;

/** What the bulk write changed, to be put back once it has ended. */
export interface BulkJournal {
  synchronous: number;
}

/**
 * Before the bulk write's BEGIN: a rollback journal when the input is known to be at most
 * JOURNAL_MAX_INPUT_BYTES and this is the database's only connection, else null and the WAL.
 */
export function takeBulkJournal(db: Database, inputBytes: number | undefined): BulkJournal | null {
  if (inputBytes === undefined || inputBytes > JOURNAL_MAX_INPUT_BYTES) return null;
  try {
    const mode = db.query("PRAGMA journal_mode = DELETE").get() as { journal_mode: string };
    if (mode.journal_mode !== "delete") return null;
  } catch (error) {
    // Another connection has the file open: SQLite says so at once, without a busy wait.
    if (error instanceof SQLiteError && String(error.code ?? "").startsWith("SQLITE_BUSY")) return null;
    throw error;
  }
  const { synchronous } = db.query("PRAGMA synchronous").get() as { synchronous: number };
  db.run("PRAGMA synchronous = EXTRA");
  return { synchronous };
}

/**
 * After the bulk write's COMMIT or ROLLBACK. Back to WAL mode, waiting out a command that
 * opened the store meanwhile and is reading it; if that takes longer than `busyTimeoutMs`,
 * the store stays in DELETE mode until the next opener turns WAL on, which every one does:
 * the bulk write has ended either way, and this must not report it failed.
 */
export function putBackJournal(db: Database, taken: BulkJournal, busyTimeoutMs: number): void {
  db.run(`PRAGMA synchronous = ${taken.synchronous}`);
  try {
    enableWal(db, busyTimeoutMs);
  } catch {
    // Left to the next opener, as said above.
  }
}
