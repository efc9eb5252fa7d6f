/**
 * What the store remembers of syncs and watchers, and the rules read from it: which path
 * names a folder, when a watcher counts as alive, and that one host runs one watcher per
 * folder (folder-nesting.ts adds that no synced folder lies inside another). `status`, the
 * dashboard, `sync` and a starting watcher all judge by these functions.
 */

import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { hostName } from "../core/home.ts";
import { isOwnedBy } from "../core/reconcile.ts";
import {
  type FolderSyncRun,
  type FolderWatcher,
  type JobfileFolder,
  MAX_RECORDED_PROBLEMS,
} from "../store/folder-records.ts";
import type { JobfileApplyResult, Store } from "../store/store.ts";
import type { Plan } from "./plan.ts";
import type { JobfileProblem } from "./problem.ts";
import { appliedCounts } from "./sync-outcome.ts";

/** A watcher refreshes its heartbeat this often, in ms. */
export const WATCHER_HEARTBEAT_MS = 10_000;
/** A watcher whose heartbeat is older than this (three missed beats) is not alive. */
export const WATCHER_STALE_MS = 3 * WATCHER_HEARTBEAT_MS;

/**
 * The key a folder is recorded under: absolute, with the parent's symlinks resolved but
 * not the folder's own, so `jobs -> jobs-v2` stays one folder when the link moves.
 */
export function folderKey(dir: string): string {
  const absolute = resolve(dir);
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

export interface LivenessCheck {
  now: number;
  /** This host; a watcher elsewhere is judged by its heartbeat alone. */
  host: string;
  /** Whether a pid on this host is running. */
  isProcessAlive: (pid: number) => boolean;
}

export function isWatcherAlive(watcher: FolderWatcher, check: LivenessCheck): boolean {
  if (check.now - watcher.heartbeatAt > WATCHER_STALE_MS) return false;
  return watcher.host !== check.host || check.isProcessAlive(watcher.pid);
}

function alreadyWatched(folder: string, pid: number): UserError {
  return new UserError(
    `the jobs folder ${folder} is already watched on this host (pid ${pid})`,
    `one watcher per folder is enough; stop it first (\`kill ${pid}\`, or \`queuectl worker stop\` if \`worker start --watch\` started it), or watch another folder`,
  );
}

function realFolder(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * A live watcher on this host of another name for the same folder (a symlink to it, or the
 * folder a symlink names): the two would apply every edit twice.
 */
function liveTwinOf(folders: JobfileFolder[], folder: string, pid: number, check: LivenessCheck) {
  const real = realFolder(folder);
  if (real === null) return null;
  for (const entry of folders) {
    if (entry.folder === folder || realFolder(entry.folder) !== real) continue;
    const watcher = entry.watchers.find(
      (candidate) =>
        candidate.host === check.host && candidate.pid !== pid && isWatcherAlive(candidate, check),
    );
    if (watcher) return { folder: entry.folder, pid: watcher.pid };
  }
  return null;
}

async function liveWatcherOf(store: Store, folder: string, pid: number, check: LivenessCheck) {
  const folders = await store.folderList();
  const entry = folders.find((candidate) => candidate.folder === folder);
  const current = entry?.watchers.find((watcher) => watcher.host === check.host) ?? null;
  const live = current !== null && current.pid !== pid && isWatcherAlive(current, check);
  return { current, live, twin: live ? null : liveTwinOf(folders, folder, pid, check) };
}

function refuseLive(folder: string, found: Awaited<ReturnType<typeof liveWatcherOf>>): void {
  if (found.live && found.current) throw alreadyWatched(folder, found.current.pid);
  if (found.twin) throw alreadyWatched(`${folder} (the same folder as ${found.twin.folder})`, found.twin.pid);
}

/** Throws the one-line refusal when another live watcher on this host keeps `folder`. */
export async function assertNotWatched(store: Store, folder: string, check: LivenessCheck): Promise<void> {
  refuseLive(folder, await liveWatcherOf(store, folder, process.pid, check));
}

/**
 * Registers `pid` as the folder's watcher on this host, replacing a dead one; refuses a
 * live one. Callers check nesting first (folder-nesting.ts).
 */
export async function claimFolder(
  store: Store,
  params: { folder: string; pid: number } & LivenessCheck,
): Promise<void> {
  const found = await liveWatcherOf(store, params.folder, params.pid, params);
  refuseLive(params.folder, found);
  const { current } = found;
  const claimed = await store.folderWatcherClaim({
    folder: params.folder,
    host: params.host,
    pid: params.pid,
    now: params.now,
    replacePid: current?.pid ?? null,
  });
  if (!claimed) {
    const winner = await liveWatcherOf(store, params.folder, params.pid, params);
    throw alreadyWatched(params.folder, winner.current?.pid ?? 0);
  }
}

export interface SyncRunParams {
  folder: string;
  by: "sync" | "watch";
  outcome: {
    root: string;
    fileCount: number;
    plan: Plan;
    applied: JobfileApplyResult | null;
    appliedSchedules: { created: string[]; updated: string[]; removed: string[] } | null;
  };
  /** Every problem the folder has now; default the plan's errors (a full sync sees them all). */
  problems?: readonly JobfileProblem[];
  now?: number;
  /** The real folder to record as read; default `outcome.root` (see targetToRecord). */
  target?: string;
}

export function syncRunOf(params: SyncRunParams): FolderSyncRun {
  const { outcome } = params;
  const applied = outcome.applied;
  const schedules = outcome.appliedSchedules;
  const problems = params.problems ?? outcome.plan.errors;
  const counts = applied ? appliedCounts(applied, schedules) : null;
  return {
    folder: params.folder,
    target: params.target ?? outcome.root,
    at: params.now ?? Date.now(),
    host: hostName(),
    pid: process.pid,
    by: params.by,
    files: outcome.fileCount,
    created: counts ? counts.create + counts.schedule_create : 0,
    updated: counts ? counts.update + counts.redeclare + counts.schedule_update : 0,
    canceled: counts ? counts.cancel + counts.schedule_remove : 0,
    // A job shown as the revision it already completed is marked `=` in the plan, as unchanged
    // jobs are (its summary counts it apart): nothing of it runs again, so it is no update.
    unchanged:
      outcome.plan.unchanged.length +
      outcome.plan.schedules.unchanged.length +
      (counts?.already_completed ?? 0),
    problems: problems.length,
    problemList: problems.slice(0, MAX_RECORDED_PROBLEMS).map((problem) => ({
      file: problem.file,
      line: problem.line,
      column: problem.column,
      message: problem.message,
    })),
  };
}

export async function recordSyncRun(store: Store, params: SyncRunParams): Promise<void> {
  await store.folderSyncRecord(syncRunOf({ ...params, folder: folderKey(params.folder) }));
}

/**
 * The real folder the named folder `dir` was last synced from, when it is not `root` any
 * more: a symlinked jobs folder re-pointed since (`ln -sfn releases/v3 jobs`), whose jobs
 * are then this folder's. Null otherwise, for a folder never synced, and when that folder
 * is still synced as a folder of its own (named directly, or through another link): one
 * folder never takes a live folder's jobs in silence.
 */
export async function previousTarget(store: Store, dir: string, root: string): Promise<string | null> {
  const key = folderKey(dir);
  const folders = await store.folderList();
  const target = folders.find((entry) => entry.folder === key)?.lastSync?.target;
  if (!target || target === root) return null;
  const live = folders.some(
    (entry) => entry.folder !== key && (entry.folder === target || entry.lastSync?.target === target),
  );
  return live ? null : target;
}

/**
 * The target a sync records: after a re-point, the previous one while any job it declared
 * is still its own (a file in error held the takeover back), so that later syncs, and the
 * watcher's, go on taking them over instead of refusing them as another folder's.
 */
export async function targetToRecord(store: Store, root: string, supersedes: string | null): Promise<string> {
  if (supersedes === null) return root;
  const left = (await store.declaredList()).some((row) => row.declared && isOwnedBy(row, supersedes));
  return left ? supersedes : root;
}
