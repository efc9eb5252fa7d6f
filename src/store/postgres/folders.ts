/** Jobfile folders on PostgreSQL, as sqlite/folders.ts does them. */

import type { SQL } from "bun";
import type { FolderSyncRun, JobfileFolder } from "../folder-records.ts";
import { groupFolders } from "../folder-rows.ts";
import type { FolderWatcherBeatParams, FolderWatcherClaimParams, FolderWatcherParams } from "../params.ts";

type Row = Record<string, unknown>;

export async function folderSyncRecord(sql: SQL, run: FolderSyncRun): Promise<void> {
  await sql`
    INSERT INTO jobfile_folders (folder, target, synced_at, host, pid, synced_by, files, created, updated,
                                 canceled, unchanged, problems, problem_list)
    VALUES (${run.folder}, ${run.target}, ${run.at}::bigint, ${run.host}, ${run.pid}::int, ${run.by},
            ${run.files}::int, ${run.created}::int, ${run.updated}::int, ${run.canceled}::int,
            ${run.unchanged}::int, ${run.problems}::int, ${JSON.stringify(run.problemList)}::jsonb)
    ON CONFLICT (folder) DO UPDATE SET
      target = EXCLUDED.target, synced_at = EXCLUDED.synced_at, host = EXCLUDED.host, pid = EXCLUDED.pid,
      synced_by = EXCLUDED.synced_by, files = EXCLUDED.files, created = EXCLUDED.created,
      updated = EXCLUDED.updated, canceled = EXCLUDED.canceled, unchanged = EXCLUDED.unchanged,
      problems = EXCLUDED.problems, problem_list = EXCLUDED.problem_list`;
}

export async function folderList(sql: SQL): Promise<JobfileFolder[]> {
  const runs = (await sql`SELECT * FROM jobfile_folders`) as Row[];
  const watchers = (await sql`SELECT * FROM jobfile_watchers ORDER BY host, pid`) as Row[];
  return groupFolders(runs, watchers);
}

/** Row-locks the folder's watcher row (FOR UPDATE) so two claims on one host cannot both win. */
export async function folderWatcherClaim(tx: SQL, params: FolderWatcherClaimParams): Promise<boolean> {
  const [current] = (await tx`
    SELECT pid FROM jobfile_watchers WHERE folder = ${params.folder} AND host = ${params.host}
    FOR UPDATE`) as Row[];
  if (current && Number(current.pid) !== params.pid && Number(current.pid) !== params.replacePid)
    return false;
  // ON CONFLICT covers a claim racing the first insert: the loser updates, then re-checks below.
  const [row] = (await tx`
    INSERT INTO jobfile_watchers (folder, host, pid, started_at, heartbeat_at, last_error, last_error_at)
    VALUES (${params.folder}, ${params.host}, ${params.pid}::int, ${params.now}::bigint, ${params.now}::bigint,
            NULL, NULL)
    ON CONFLICT (folder, host) DO UPDATE SET
      pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at,
      last_error = NULL, last_error_at = NULL
      WHERE jobfile_watchers.pid = ${params.pid}::int OR jobfile_watchers.pid = ${params.replacePid ?? -1}::int
    RETURNING pid`) as Row[];
  return row !== undefined;
}

export async function folderWatcherBeat(sql: SQL, params: FolderWatcherBeatParams): Promise<void> {
  const error = params.error ?? null;
  await sql`
    UPDATE jobfile_watchers SET heartbeat_at = ${params.now}::bigint,
      last_error = COALESCE(${error}::text, last_error),
      last_error_at = CASE WHEN ${error}::text IS NULL THEN last_error_at ELSE ${params.now}::bigint END
    WHERE folder = ${params.folder} AND host = ${params.host} AND pid = ${params.pid}::int`;
}

export async function folderWatcherRemove(sql: SQL, params: FolderWatcherParams): Promise<void> {
  await sql`DELETE FROM jobfile_watchers
            WHERE folder = ${params.folder} AND host = ${params.host} AND pid = ${params.pid}::int`;
}
