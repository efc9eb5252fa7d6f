/**
 * What the store remembers about jobs folders: each folder's last sync and the watchers
 * that keep it synced. Both backends keep the same shape; `status` and the dashboard read it.
 */

/** Problems a sync run keeps in the store: enough to show, never the whole list of a broken folder. */
export const MAX_RECORDED_PROBLEMS = 50;

export interface RecordedProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** One sync of a folder, by `queuectl sync` or by a watcher. */
export interface FolderSyncRun {
  /** The folder as named, made absolute (a symlinked folder keeps its link's path). */
  folder: string;
  /**
   * The real folder that was read; after a symlinked folder was re-pointed, the one it
   * pointed to before, until every job declared there was taken over or removed.
   */
  target: string;
  at: number;
  host: string;
  pid: number;
  by: "sync" | "watch";
  files: number;
  created: number;
  updated: number;
  canceled: number;
  unchanged: number;
  /** How many problems the run found; `problemList` holds the first MAX_RECORDED_PROBLEMS. */
  problems: number;
  problemList: RecordedProblem[];
}

/** A process keeping a folder synced; one per folder and host. */
export interface FolderWatcher {
  folder: string;
  host: string;
  pid: number;
  startedAt: number;
  /** Refreshed by the watcher every few seconds while it runs. */
  heartbeatAt: number;
  /** The last sync that failed as a whole (folder missing, store locked), or null. */
  lastError: string | null;
  lastErrorAt: number | null;
}

export interface JobfileFolder {
  folder: string;
  lastSync: FolderSyncRun | null;
  watchers: FolderWatcher[];
}
