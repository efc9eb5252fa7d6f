/**
 * A worker runs the commands its store holds, as the user it runs as. A SQLite store, or a
 * data folder, that another user owns is that user's to fill: whoever owns the file can
 * put a job in it, or swap the file, and a worker run by root would then run their command
 * as root. So, as git refuses a repository another user owns, a worker refuses such a store
 * (exit 2) before it claims anything. Reading someone else's queue (`status`, `list`,
 * `export`) stays allowed: reading runs nothing. PostgreSQL stores are guarded by the
 * server's roles instead.
 */

import { statSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../core/errors.ts";
import { journalFiles } from "../store/foreign-journal.ts";
import { resolveStoreUrl, storeTarget } from "../store/open.ts";

/** Who owns `path`, or null when it does not exist (it will be created, and be ours). */
function ownerOf(path: string): number | null {
  try {
    return statSync(path).uid;
  } catch {
    return null;
  }
}

/** Throws when the data folder, or the SQLite file, its `-wal`, `-shm` or its folder, belongs to another user than this one or root. */
export function assertOwnStore(dbUrl: string | undefined, home: string): void {
  const me = process.getuid?.();
  if (me === undefined) return;
  const target = storeTarget(resolveStoreUrl(dbUrl));
  // The `-wal` and `-shm` files too: whoever owns them can read what passes through them, and
  // put rows in the WAL that the next reader takes as the database's.
  const paths =
    "sqlite" in target
      ? [home, dirname(target.sqlite), target.sqlite, ...journalFiles(target.sqlite)]
      : [home];
  for (const path of paths) {
    const owner = ownerOf(path);
    // Root's own folders (/tmp, /var/lib) are trusted, as the jobs folder check trusts them.
    if (owner === null || owner === me || owner === 0) continue;
    throw new UserError(
      `${path} belongs to another user (uid ${owner}), who could make this worker run their commands`,
      "run the worker as that user (in a container: --user), make the files yours if you trust them (chown), or use a QUEUECTL_HOME of your own; reading the queue still works",
    );
  }
}
