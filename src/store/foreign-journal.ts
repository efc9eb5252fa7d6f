/**
 * A SQLite database's `-wal` and `-shm` files must be its owner's (or root's). SQLite deletes the
 * `-wal` when the last connection closes, so in a folder others may write, such as /tmp,
 * anyone can put one there between two commands, and the next command that opens the
 * database replays its pages as the database's own: their jobs instead of yours, and a
 * worker then runs them as you. So before SQLite opens the file, a journal that another user
 * owns, or a link in its place, is refused. The worker's own check (worker/own-store.ts) goes
 * further and refuses a database that is not its user's.
 */

import { lstatSync, type Stats, statSync } from "node:fs";
import { UserError } from "../core/errors.ts";

function statsOf(path: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return null;
  }
}

export function refuseForeignJournal(path: string): void {
  const me = process.getuid?.();
  if (me === undefined) return;
  // A database not made yet will be this user's, and so must anything already beside it.
  const owner = statsOf(path, true)?.uid ?? me;
  for (const journal of [`${path}-wal`, `${path}-shm`]) {
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
