/**
 * That no folder synced into a store lies inside another one synced into it (see
 * ownership.ts, nestedFolder). Its own file so that `status`, which reads sync-record.ts for
 * watcher liveness, does not load the scan rules this needs.
 */

import { existsSync, realpathSync, statSync } from "node:fs";
import { relative } from "node:path";
import { UserError } from "../core/errors.ts";
import { type Nesting, nestedFolder, type SyncedFolder } from "../core/ownership.ts";
import type { Store } from "../store/store.ts";
import { isIgnoredName } from "./scan.ts";
import { folderKey, isWatcherAlive, type LivenessCheck } from "./sync-record.ts";

function realPathOf(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function nestedError(dir: string, root: string, nesting: Nesting): UserError {
  const other = nesting.path === nesting.folder ? nesting.folder : `${nesting.folder} (${nesting.path})`;
  const twice = "also synced into this store: its files would be queued twice, under two ids";
  if (nesting.kind === "inside")
    return new UserError(
      `the jobs folder ${dir} lies inside ${other}, ${twice}`,
      `sync only ${nesting.folder} (it reads ${relative(nesting.path, root)}/ too), or move ${dir} out of it`,
    );
  return new UserError(
    `the jobs folder ${dir} holds ${other}, ${twice}`,
    `sync only one of them, or move ${nesting.folder} out of it; to sync ${dir} instead, empty ${nesting.folder}, sync it (it then declares nothing) and put its files back`,
  );
}

/**
 * Throws the one-line refusal when another folder synced into this store lies inside the
 * folder `dir`, or holds it (ownership.ts, nestedFolder). Paths are compared as real paths,
 * as a folder's jobs are owned: the other folder where its name leads now, and where it was
 * last read from (a re-pointed link's old target). A record whose folder is gone from disk
 * is no folder; a missing `dir`, or a file named as the folder, is left for reading it to report.
 * With `liveness`, a folder that declares nothing yet counts while a watcher of it lives:
 * the first file dropped in would be declared by both. A watcher asks before every sync it
 * applies, since the other folder may come back (a checkout) or start declaring later.
 */
export async function assertNotNested(store: Store, dir: string, liveness?: LivenessCheck): Promise<void> {
  const root = realPathOf(dir);
  if (root === null || !statSync(root).isDirectory()) return;
  const key = folderKey(dir);
  const others: SyncedFolder[] = [];
  for (const entry of await store.folderList()) {
    const run = entry.lastSync;
    const now = entry.folder === key || !run ? null : realPathOf(entry.folder);
    if (!run || now === null) continue;
    const paths = run.target !== now && existsSync(run.target) ? [now, run.target] : [now];
    const watched =
      liveness !== undefined && entry.watchers.some((watcher) => isWatcherAlive(watcher, liveness));
    others.push({ folder: entry.folder, paths, declares: run.files > 0 || watched });
  }
  const nesting = nestedFolder(root, others, isIgnoredName);
  if (nesting) throw nestedError(dir, root, nesting);
}
