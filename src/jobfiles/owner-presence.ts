/**
 * Which other folders, named as owners of rows and schedules this folder wants, count as
 * gone (ownership.ts, ownerGone): looked up on this host's disk, and, for any that is not
 * there, in the store's record of which hosts sync and watch each folder. A folder a live
 * watcher on this host keeps is not gone either: its repo is only checked out, for now, at
 * a commit without it, and the watcher will sync it again when it comes back.
 */

import { statSync } from "node:fs";
import { hostName } from "../core/home.ts";
import { type FolderPresence, ownerGone } from "../core/ownership.ts";
import { isOwnedBy, ownerKey } from "../core/reconcile.ts";
import type { JobfileFolder } from "../store/folder-records.ts";
import type { Store } from "../store/store.ts";
import { isProcessAlive } from "../worker/process-info.ts";
import type { DeclaredSchedule } from "./plan-schedules.ts";
import { isWatcherAlive, type LivenessCheck } from "./sync-record.ts";

/** ENOENT and ENOTDIR say the path is not there; EACCES and the rest only that it cannot be seen. */
function presenceOnDisk(path: string): FolderPresence {
  try {
    statSync(path);
    return "present";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "absent" : "unknown";
  }
}

/** Whether a host other than this one last synced `owner` or watches it, or a live watcher here does. */
function stillKept(owner: string, folders: readonly JobfileFolder[], check: LivenessCheck): boolean {
  return folders.some(
    (entry) =>
      (entry.folder === owner || entry.lastSync?.target === owner) &&
      ((entry.lastSync !== null && entry.lastSync.host !== check.host) ||
        entry.watchers.some((watcher) => watcher.host !== check.host || isWatcherAlive(watcher, check))),
  );
}

/** Owners of stored rows and schedules that `root` does not own, and that count as gone. */
export async function missingOwners(
  store: Store,
  root: string,
  existing: Awaited<ReturnType<Store["jobDeclarations"]>>,
  schedules: readonly DeclaredSchedule[],
): Promise<Set<string>> {
  // A Set: facts of a whole store may name one other folder thousands of times.
  const owners = new Set([
    ...existing.filter((row) => row.source !== null && !isOwnedBy(row, root)).map(ownerKey),
    ...schedules.map((schedule) => schedule.owner ?? schedule.source),
  ]);
  const candidates = [...owners]
    .filter((owner): owner is string => owner !== null && !isOwnedBy({ owner: null, source: owner }, root))
    .map((owner) => ({ owner, onDisk: presenceOnDisk(owner) }));
  // The folder records (and the store's clock they are judged on) are read only when some
  // owner is not on this disk: rarely. Without records no watcher's age is looked at.
  const [folders, now] = candidates.some((entry) => entry.onDisk === "absent")
    ? await Promise.all([store.folderList(), store.clockNow()])
    : [[], 0];
  const check: LivenessCheck = { now, host: hostName(), isProcessAlive };
  const missing = new Set<string>();
  for (const { owner, onDisk } of candidates) {
    if (ownerGone(onDisk, stillKept(owner, folders, check))) missing.add(owner);
  }
  return missing;
}
