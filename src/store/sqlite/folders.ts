/** Jobfile folders for the SQLite backend: each folder's last sync and its watchers. */

import type { Database } from "bun:sqlite";
import type { FolderSyncRun, JobfileFolder } from "../folder-records.ts";
import { groupFolders } from "../folder-rows.ts";
import type { FolderWatcherBeatParams, FolderWatcherClaimParams, FolderWatcherParams } from "../params.ts";

type Row = Record<string, unknown>;

export function folderSyncRecord(db: Database, run: FolderSyncRun): void {
  db.query(`
    INSERT OR REPLACE INTO jobfile_folders (folder, target, synced_at, host, pid, synced_by, files, created,
                                            updated, canceled, unchanged, problems, problem_list)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    run.folder,
    run.target,
    run.at,
    run.host,
    run.pid,
    run.by,
    run.files,
    run.created,
    run.updated,
    run.canceled,
    run.unchanged,
    run.problems,
    JSON.stringify(run.problemList),
  );
}

export function folderList(db: Database): JobfileFolder[] {
  return groupFolders(
    db.query("SELECT * FROM jobfile_folders").all() as Row[],
    db.query("SELECT * FROM jobfile_watchers ORDER BY host, pid").all() as Row[],
  );
}

export function folderWatcherClaim(db: Database, params: FolderWatcherClaimParams): boolean {
  const current = db
    .query("SELECT pid FROM jobfile_watchers WHERE folder = ? AND host = ?")
    .get(params.folder, params.host) as Row | null;
  if (current && Number(current.pid) !== params.pid && Number(current.pid) !== params.replacePid)
    return false;
  db.query(`
    INSERT OR REPLACE INTO jobfile_watchers (folder, host, pid, started_at, heartbeat_at, last_error, last_error_at)
    VALUES (?, ?, ?, ?, ?, NULL, NULL)`).run(params.folder, params.host, params.pid, params.now, params.now);
  return true;
}

export function folderWatcherBeat(db: Database, params: FolderWatcherBeatParams): void {
  db.query(`
    UPDATE jobfile_watchers SET heartbeat_at = ?1,
      last_error = COALESCE(?2, last_error),
      last_error_at = CASE WHEN ?2 IS NULL THEN last_error_at ELSE ?1 END
    WHERE folder = ?3 AND host = ?4 AND pid = ?5`).run(
    params.now,
    params.error ?? null,
    params.folder,
    params.host,
    params.pid,
  );
}

export function folderWatcherRemove(db: Database, params: FolderWatcherParams): void {
  db.query("DELETE FROM jobfile_watchers WHERE folder = ? AND host = ? AND pid = ?").run(
    params.folder,
    params.host,
    params.pid,
  );
}
