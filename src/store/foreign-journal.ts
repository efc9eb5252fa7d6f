/**
 * A SQLite database's `-wal`, `-shm` and `-journal` files must be its owner's (or root's).
 * SQLite deletes the `-wal` when the last connection closes, so in a folder others may write,
 * such as /tmp, anyone can put one there between two commands, and the next command that
 * opens the database replays its pages as the database's own: their jobs instead of yours, and a
 * worker then runs them as you. So before SQLite opens the file, a journal that another user
 * owns, or a link in its place, is refused. The worker's own check (worker/own-store.ts) goes
 * further and refuses a database that is not its user's.
 */

import { lstatSync, realpathSync, type Stats, statSync } from "node:fs";
import { UserError } from "../core/errors.ts";

function statsOf(path: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * The files beside a database that SQLite reads as its own: the WAL, its shared memory, and a
 * rollback journal, which it replays before anything else, even in WAL mode. Beside the file
 * itself: SQLite follows links in the path to it, and keeps them there.
 */
export function journalFiles(path: string): string[] {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // Not made yet: it will be made at this path.
  }
  return [`${real}-wal`, `${real}-shm`, `${real}-journal`];
}

export function refuseForeignJournal(path: string): void {
  const me = process.getuid?.();
  if (me === undefined) return;
  // A database not made yet will be this user's, and so must anything already beside it.
  const owner = statsOf(path, true)?.uid ?? me;
  for (const journal of journalFiles(path)) {
    const stats = statsOf(journal, false);
    if (stats === null || (!stats.isSymbolicLink() && (stats.uid === owner || stats.uid === 0))) continue;
    const what = stats.isSymbolicLink()
      ? "is a link"
      : `belongs to another user (uid ${stats.uid}) than the database`;
    throw new UserError(
      `${journal} ${what}: whoever put it there could put their own jobs in the queue`,
      "remove it if you did not make it (the database itself holds every committed job), and keep queues in a folder only you can write",
    );
  }
}
