/** Row mapping for the jobfile folder tables, shared by both backends (they store the same columns). */

import type { FolderSyncRun, FolderWatcher, JobfileFolder, RecordedProblem } from "./folder-records.ts";

type Row = Record<string, unknown>;

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export function rowToSyncRun(row: Row): FolderSyncRun {
  const list = typeof row.problem_list === "string" ? JSON.parse(row.problem_list) : row.problem_list;
  return {
    folder: String(row.folder),
    target: String(row.target),
    at: Number(row.synced_at),
    host: String(row.host),
    pid: Number(row.pid),
    by: row.synced_by === "watch" ? "watch" : "sync",
    files: Number(row.files),
    created: Number(row.created),
    updated: Number(row.updated),
    canceled: Number(row.canceled),
    unchanged: Number(row.unchanged),
    problems: Number(row.problems),
    problemList: (list ?? []) as RecordedProblem[],
  };
}

export function rowToFolderWatcher(row: Row): FolderWatcher {
  return {
    folder: String(row.folder),
    host: String(row.host),
    pid: Number(row.pid),
    startedAt: Number(row.started_at),
    heartbeatAt: Number(row.heartbeat_at),
    lastError: row.last_error === null || row.last_error === undefined ? null : String(row.last_error),
    lastErrorAt: nullableNumber(row.last_error_at),
  };
}

/** Joins sync records and watchers by folder, sorted by path. */
export function groupFolders(runs: Row[], watchers: Row[]): JobfileFolder[] {
  const folders = new Map<string, JobfileFolder>();
  const entry = (folder: string): JobfileFolder => {
    let found = folders.get(folder);
    if (!found) {
      found = { folder, lastSync: null, watchers: [] };
      folders.set(folder, found);
    }
    return found;
  };
  for (const row of runs) entry(String(row.folder)).lastSync = rowToSyncRun(row);
  for (const row of watchers) entry(String(row.folder)).watchers.push(rowToFolderWatcher(row));
  return [...folders.values()].sort((a, b) => a.folder.localeCompare(b.folder));
}
