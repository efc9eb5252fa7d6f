/**
 * Keeps a jobs folder reconciled: a full sync at start, a full sync after every burst of
 * file events, and a full sync on a timer in case the OS dropped an event (inotify queue
 * overflow, a network mount, a laptop waking up). Every sync reads the whole folder, so a
 * lost, duplicated or reordered event can delay a change but never corrupt the queue.
 *
 * Timing budget for "a dropped file is queued within 300 ms of its last write": chokidar
 * holds the event until the size has been stable for `settleMs` (100 ms, polled every
 * 25 ms), the burst window adds 25 ms, and a sync of a small folder takes tens of ms.
 */

import type { Stats } from "node:fs";
import { relative, sep } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import type { Store } from "../store/store.ts";
import { isIgnoredName, isJobfileName, resolveJobsFolder } from "./scan.ts";
import { type JobfileCache, type SyncOutcome, syncJobsFolder } from "./sync.ts";

export const DEFAULT_RESYNC_MS = 60_000;
export const DEFAULT_SETTLE_MS = 100;
const DEFAULT_DEBOUNCE_MS = 25;
const WRITE_POLL_MS = 25;
/** A steady stream of events still gets a sync at least this often. */
const MAX_BURST_MS = 250;

export interface WatcherOptions {
  store: Store;
  dir: string;
  /** Read a folder that others can write. Default false. */
  allowSharedFolder?: boolean;
  /** How often the whole folder is synced even without events, in ms. Default 60000. */
  resyncMs?: number;
  /** How long a file must stay unchanged before it is read, in ms. Default 100. */
  settleMs?: number;
  /** Events this close together (ms) make one burst and one sync. Default 25. */
  debounceMs?: number;
  /** The clock for job times and for deciding that a file has settled. Default Date.now. */
  now?: () => number;
  /** After every sync, including those that changed nothing. */
  onSync?: (outcome: SyncOutcome) => void;
  /** A sync that failed as a whole (folder removed, store locked). The watcher keeps going. */
  onError?: (error: unknown) => void;
}

export interface JobfileWatcher {
  /** The folder's real path. */
  readonly root: string;
  /** A full sync now, or right after the running one; resolves with its outcome. */
  syncNow(): Promise<SyncOutcome>;
  /** Stops watching and waits for a running sync to finish. Does not close the store. */
  close(): Promise<void>;
}

function isIgnoredPath(root: string, path: string, stats?: Stats): boolean {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..")) return false;
  const parts = rel.split(sep);
  if (parts.some(isIgnoredName)) return true;
  return stats?.isFile() === true && !isJobfileName(parts[parts.length - 1] ?? "");
}

/**
 * Starts watching after a first full sync. Throws (a UserError) when the folder cannot be
 * used at all: missing, not a folder, or writable by others without `allowSharedFolder`.
 */
export async function startWatcher(options: WatcherOptions): Promise<JobfileWatcher> {
  const allowSharedFolder = options.allowSharedFolder ?? false;
  const root = await resolveJobsFolder(options.dir, allowSharedFolder);
  const now = options.now ?? Date.now;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const reportError = options.onError ?? (() => {});
  const cache: JobfileCache = new Map();
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let burstStart = 0;
  let chain: Promise<unknown> = Promise.resolve();
  let waiting: Promise<SyncOutcome> | null = null;

  const runSync = async (): Promise<SyncOutcome> => {
    const outcome = await syncJobsFolder({
      store: options.store,
      dir: root,
      now: now(),
      allowSharedFolder,
      settleMs,
      cache,
    });
    if (outcome.settlesAt !== null) schedule(Math.max(0, outcome.settlesAt - now()) + 5);
    options.onSync?.(outcome);
    return outcome;
  };

  const syncNow = (): Promise<SyncOutcome> => {
    // A sync that has not started yet will see every change made so far, so requests share it.
    if (waiting) return waiting;
    const next = chain.then(() => {
      waiting = null;
      return runSync();
    });
    waiting = next;
    chain = next.catch(() => {});
    return next;
  };

  function schedule(delayMs: number): void {
    if (closed) return;
    const at = Date.now();
    if (timer === null) burstStart = at;
    else clearTimeout(timer);
    const due = Math.min(at + delayMs, burstStart + MAX_BURST_MS);
    timer = setTimeout(
      () => {
        timer = null;
        if (!closed) syncNow().catch(reportError);
      },
      Math.max(0, due - at),
    );
  }

  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    followSymlinks: false,
    atomic: true,
    awaitWriteFinish: { stabilityThreshold: settleMs, pollInterval: WRITE_POLL_MS },
    ignored: (path: string, stats?: Stats) => isIgnoredPath(root, path, stats),
  });
  watcher.on("all", () => schedule(debounceMs));
  watcher.on("error", reportError);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  const resync = setInterval(() => {
    // Forget parsed files too, so even a change that kept size and times is read again.
    cache.clear();
    schedule(0);
  }, options.resyncMs ?? DEFAULT_RESYNC_MS);

  const close = async (): Promise<void> => {
    closed = true;
    if (timer !== null) clearTimeout(timer);
    clearInterval(resync);
    await watcher.close();
    await chain;
  };

  try {
    await syncNow();
  } catch (error) {
    await close();
    throw error;
  }
  return { root, syncNow, close };
}
