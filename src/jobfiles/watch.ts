/**
 * Keeps a jobs folder reconciled: a full sync at start and on a timer (the safety net for
 * events the OS dropped), and in between, for each burst of file events, a sync of just
 * the paths the events named. Every file is read only once it has settled (settle.ts), and
 * a file that disappears is only removed once it has stayed away for the settle time, so an
 * editor's save or a rename-over never cancels a job.
 *
 * Timing budget for "a changed file is queued within 300 ms": the file must hold still for
 * `settleMs` (100 ms), the burst window adds 25 ms, and syncing the named files costs what
 * reading the store's declarations costs, not what reading the folder does.
 */

import { relative, resolve, sep } from "node:path";
import { resolveConfig } from "../core/config.ts";
import { hostName } from "../core/home.ts";
import { FolderModel, heldDeclarations } from "./folder-model.ts";
import { assertNotNested } from "./folder-nesting.ts";
import { type Reading, refreshFromScan, refreshPath } from "./folder-refresh.ts";
import { readFolderSettings, SETTINGS_FILE } from "./folder-settings.ts";
import { RefusalRetry } from "./refusal-retry.ts";
import { type FolderIdentity, identifyJobsFolder, scanJobsFolder, whyFolderChanged } from "./scan.ts";
import { SettingsChangeHold, settingsStamp } from "./settings-change.ts";
import { reconcile } from "./sync.ts";
import type { SyncOutcome } from "./sync-outcome.ts";
import {
  claimFolder,
  folderKey,
  previousTarget,
  syncRunOf,
  targetToRecord,
  WATCHER_HEARTBEAT_MS,
} from "./sync-record.ts";
import { type FolderEvents, watchFolder } from "./watch-events.ts";
import { errorText, type JobfileWatcher, type WatcherOptions } from "./watch-options.ts";

export type { JobfileWatcher, WatcherIdentity, WatcherOptions } from "./watch-options.ts";

export const DEFAULT_RESYNC_MS = 60_000;
export const DEFAULT_SETTLE_MS = 100;
const DEFAULT_DEBOUNCE_MS = 25;
/** A steady stream of events still gets a sync at least this often. */
const MAX_BURST_MS = 250;

/**
 * Starts watching after a first full sync. Throws (a UserError) when the folder cannot be
 * used at all (missing, not a folder, writable by others without `allowSharedFolder`), or
 * when another live watcher on this host already keeps it.
 */
export async function startWatcher(options: WatcherOptions): Promise<JobfileWatcher> {
  const { store } = options;
  const allowShared = options.allowSharedFolder ?? false;
  const now = options.now ?? Date.now;
  const storeNow = options.storeNow ?? now;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
  const identity = options.identity ?? { host: hostName(), pid: process.pid, isProcessAlive: () => true };
  // Taken as absolute once: a relative path would follow the process's folder if a parent
  // of the jobs folder is renamed, and the watcher would go on applying the moved folder.
  const dir = resolve(options.dir);
  const folder = folderKey(dir);
  const registration = { folder, host: identity.host, pid: identity.pid };
  let opened: FolderIdentity = await identifyJobsFolder(dir, allowShared);
  let model = new FolderModel(opened.root);
  /** False until a full sync has read the folder into the model, and again once the model is forgotten. */
  let seeded = false;
  /** False from the moment the model is ahead of the store until a plan of it was applied. */
  let applied = false;
  /** True once the folder was seen gone, replaced or made again: its tree is watched anew. */
  let rewatch = false;
  const liveness = () => ({ now: storeNow(), host: identity.host, isProcessAlive: identity.isProcessAlive });
  await assertNotNested(store, folder, liveness());
  // Read before the folder is claimed: a watcher that registered counts as started (`worker
  // start --watch` waits for that), so one that cannot read its settings must not register.
  await readFolderSettings(opened.root);
  await claimFolder(store, { ...registration, now: storeNow(), isProcessAlive: identity.isProcessAlive });

  /**
   * What was read while the folder was gone, replaced or open to others is no picture of
   * it: dropped, so the next sync is a full one that reads the folder afresh, and until one
   * succeeds no file is waited for (nothing to wake for while the folder is away).
   */
  const forgetModel = (): void => {
    model = new FolderModel(model.root);
    seeded = false;
    applied = false;
    rewatch = true;
  };
  const checkFolder = (): void => {
    const change = whyFolderChanged(dir, opened, allowShared);
    if (change === null) return;
    forgetModel();
    throw change;
  };

  const reading: Reading = { settleMs, now, allowSharedFolder: allowShared, checkFolder };
  const reportError = (error: unknown) => {
    options.onError?.(error);
    store.folderWatcherBeat({ ...registration, now: storeNow(), error: errorText(error) }).catch(() => {});
    // Tried again soon, as a refused plan is: a folder whose parent was renamed away and back
    // makes no event here, and the periodic re-sync may be a minute off.
    if (!closed) refusalRetry.afterError();
  };

  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();
  let pendingFull: Promise<SyncOutcome | null> | null = null;
  const dirty = new Set<string>();
  let burstTimer: ReturnType<typeof setTimeout> | null = null;
  let burstStart = 0;
  let wakeTimer: ReturnType<typeof setTimeout> | null = null;

  /** The namespace of the last plan applied; undefined before the first. */
  let appliedNamespace: string | null | undefined;

  /**
   * Plans and applies `rels` (all files when null). Null when it met a namespace other than
   * the last one applied and may not apply it (`mayRename` false: a path sync, a periodic
   * re-sync): the settings file's event may still be on its way, and the files read beside
   * it another checkout's, so the change waits for the folder to fall quiet like one heard.
   * Null too, for any sync, when the settings file changed while the sync read the files
   * (`stampBefore`, from before its reads) or a settings change is being held.
   */
  const apply = async (
    rels: Set<string> | null,
    previousIds: string[],
    mayRename: boolean,
    stampBefore?: string,
    atLongest = false,
  ): Promise<SyncOutcome | null> => {
    const planStarted = performance.now();
    const appliedBefore = applied;
    // The model is ahead of the store until a plan of it is applied, whatever fails first.
    applied = false;
    const { namespace } = await readFolderSettings(model.root);
    const renaming = !mayRename && appliedNamespace !== undefined && namespace !== appliedNamespace;
    // A checkout that began while the sync read the files (settingsStamp): some of them
    // may be the other checkout's, so this sync waits with the rest for the folder to settle.
    const checkedOut = stampBefore !== undefined && settingsStamp(model.root) !== stampBefore;
    if (renaming || (!atLongest && (checkedOut || (mayRename && settingsHold.holding)))) {
      settingsHold.settingsChanged();
      return null;
    }
    const config = resolveConfig(await store.configGetAll());
    const at = storeNow();
    const declared = await store.declaredList();
    const held = heldDeclarations(declared, model.root, namespace);
    const affected = rels === null ? null : model.affected(rels, previousIds, held);
    const naming = model.naming(namespace, held);
    const supersedes = await previousTarget(store, dir, model.root);
    const desired = model.desired(affected?.rels ?? null, config.maxRetries, at, naming);
    const scope = affected ? model.scope(affected, naming) : undefined;
    // Everything above was read from the folder identified before the reads began; if it
    // moved or changed hands since, the reads may mix two folders or none: apply nothing.
    checkFolder();
    // A folder inside this one (or holding it) may have come back or begun to declare since.
    await assertNotNested(store, folder, liveness());
    const reconciled = await reconcile({ store, declared, desired, now: at, scope, supersedes });
    appliedNamespace = namespace;
    model.recordPlan(affected?.rels ?? null, reconciled.plan);
    // A scoped plan leaves the other files as the last full plan left them.
    applied = rels === null || appliedBefore;
    let fileCount = 0;
    for (const entry of model.files.values()) if (entry.kind !== "missing") fileCount++;
    const outcome: SyncOutcome = {
      root: model.root,
      namespace,
      fileCount,
      ...reconciled,
      settlesAt: model.nextWake(settleMs),
    };
    const target = await targetToRecord(store, model.root, supersedes);
    await store.folderSyncRecord(
      syncRunOf({ folder, by: "watch", outcome, problems: model.allProblems(), now: at, target }),
    );
    options.onSync?.(outcome);
    refusalRetry.afterSync(!closed && model.hasPlanProblems(), performance.now() - planStarted);
    return outcome;
  };

  const refusalRetry = new RefusalRetry(() => {
    if (!closed && !pendingFull && !settingsHold.holding) enqueue(() => fullSync(true)).catch(reportError);
  }, resyncMs);

  /** The sync of the paths events named, and of waiting or missing files whose time has come. */
  const syncPaths = async (): Promise<void> => {
    // A settings change waits for the folder to fall quiet, and then syncs all of it.
    if (settingsHold.holding) return;
    // Only a full sync re-reads a forgotten model, catches the store up with a model whose
    // last plan failed, follows a replaced folder, or reports why the folder is unusable now.
    if (!seeded || !applied || whyFolderChanged(dir, opened, allowShared) !== null) {
      await fullSync();
      return;
    }
    const paths = model.withLinksTo([...dirty, ...model.due(now(), settleMs)]);
    dirty.clear();
    // A checkout there and back during the reads leaves the same namespace beside the other's files.
    const stampBefore = settingsStamp(model.root);
    const changed = new Set<string>();
    const previousIds: string[] = [];
    for (const rel of paths) {
      const result = await refreshPath(model, rel, reading, previousIds);
      if (result === "folder") {
        await fullSync();
        return;
      }
      if (result) changed.add(rel);
    }
    if (changed.size > 0) await apply(changed, previousIds, false, stampBefore);
  };

  /** Follows a symlinked folder to its current target, and a folder replaced by a new one. */
  const followFolder = async (): Promise<void> => {
    let found: FolderIdentity;
    try {
      found = await identifyJobsFolder(dir, allowShared);
    } catch (error) {
      forgetModel();
      throw error;
    }
    const same = found.root === opened.root && found.dev === opened.dev && found.ino === opened.ino;
    // A folder made again often gets its inode number back, and the watch of the deleted one
    // hears nothing more: one seen gone or made again, or whose watch failed, is watched anew.
    if (same && !rewatch && !events.treeFailed()) return;
    model = new FolderModel(found.root);
    opened = found;
    seeded = false;
    rewatch = false;
    events.retarget(found.root);
  };

  /**
   * Files the store says this folder declared, unknown to the model (the watcher just
   * started, or the folder was re-pointed): missing since now, so a file that is only
   * being saved at this moment is not read as removed.
   */
  const seedFromStore = async (): Promise<void> => {
    if (seeded) return;
    seeded = true;
    const sources = [
      ...(await store.declaredList()).filter((job) => job.declared).map((job) => job.source),
      ...(await store.scheduleList()).map((schedule) => schedule.source),
    ];
    const prefix = model.root.endsWith(sep) ? model.root : model.root + sep;
    for (const source of sources) {
      if (source === null || !source.startsWith(prefix)) continue;
      const rel = relative(model.root, source).split(sep).join("/");
      if (!model.files.has(rel)) model.files.set(rel, { kind: "missing", since: now(), last: null });
    }
  };

  /**
   * Scans the whole folder and plans it. `quiet` (the periodic re-sync) skips the plan when
   * the scan found nothing the model did not know, the last full plan was applied and it
   * refused nothing: then the plan would be the last one again, and 20,000 files cost only
   * their stats. A refusal is planned again: the store may have let go of what it hung on.
   */
  const fullSync = async (quiet = false, atLongest = false): Promise<SyncOutcome | null> => {
    dirty.clear();
    await followFolder();
    const stampBefore = settingsStamp(model.root);
    const previousIds: string[] = [];
    const changed = await refreshFromScan(
      model,
      await scanJobsFolder(model.root, allowShared),
      reading,
      previousIds,
    );
    await seedFromStore();
    if (quiet && !changed && applied && !model.hasPlanProblems()) {
      // Unless the settings file changed unheard: its new namespace then waits for quiet.
      if ((await readFolderSettings(model.root)).namespace === appliedNamespace) return null;
    }
    return apply(null, previousIds, !quiet, stampBefore, atLongest);
  };

  /** Runs `work` after whatever is running, then sets the timer for the next waiting file. */
  const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(work);
    chain = next.catch(() => {}).then(setWake);
    return next;
  };

  const setWake = (): void => {
    if (wakeTimer !== null) clearTimeout(wakeTimer);
    wakeTimer = null;
    const at = model.nextWake(settleMs);
    // While a settings change holds every sync, a file's wake would fire and do nothing, at
    // once and again; the full sync that ends the hold sets the next wake.
    if (closed || at === null || settingsHold.holding) return;
    wakeTimer = setTimeout(
      () => {
        wakeTimer = null;
        if (!closed) enqueue(syncPaths).catch(reportError);
      },
      Math.max(0, at - now()) + 1,
    );
  };

  const syncNow = (): Promise<SyncOutcome | null> => {
    // A full sync that has not started yet will see every change made so far: share it.
    if (pendingFull) return pendingFull;
    const next = enqueue(() => {
      pendingFull = null;
      return fullSync();
    });
    pendingFull = next;
    return next;
  };

  // The folder's settings file renames every id it declares: only a full sync can apply that,
  // and only once the files of the same checkout are all there (settings-change.ts).
  const settingsHold = new SettingsChangeHold({
    root: () => model.root,
    quietMs: settleMs,
    maxHoldMs: options.maxSettingsHoldMs,
    onQuiet: (atLongest) => {
      if (closed) return;
      if (atLongest) enqueue(() => fullSync(false, true)).catch(reportError);
      else syncNow().catch(reportError);
    },
  });

  const onPath = (rel: string | null): void => {
    if (closed) return;
    if (rel === SETTINGS_FILE) {
      settingsHold.settingsChanged();
      return;
    }
    if (settingsHold.holding) {
      settingsHold.folderChanged();
      return;
    }
    if (rel === null) {
      syncNow().catch(reportError);
      return;
    }
    dirty.add(rel);
    const at = Date.now();
    if (burstTimer === null) burstStart = at;
    else clearTimeout(burstTimer);
    const due = Math.min(at + debounceMs, burstStart + MAX_BURST_MS);
    burstTimer = setTimeout(
      () => {
        burstTimer = null;
        if (!closed && dirty.size > 0) enqueue(syncPaths).catch(reportError);
      },
      Math.max(0, due - at),
    );
  };

  const events: FolderEvents = watchFolder(dir, model.root, {
    onPath,
    isLinkTarget: (rel) => model.isLinkTarget(rel),
    // The folder's own entry changed (made again, replaced, re-pointed): watch it anew.
    onFolderEntry: () => {
      rewatch = true;
      onPath(null);
    },
    onError: reportError,
  });
  const resync = setInterval(() => {
    if (!closed && !pendingFull && !settingsHold.holding) enqueue(() => fullSync(true)).catch(reportError);
  }, resyncMs);
  const heartbeat = setInterval(() => {
    store.folderWatcherBeat({ ...registration, now: storeNow() }).catch(() => {});
  }, options.heartbeatMs ?? WATCHER_HEARTBEAT_MS);

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const timer of [burstTimer, wakeTimer]) if (timer !== null) clearTimeout(timer);
    refusalRetry.close();
    settingsHold.close();
    clearInterval(resync);
    clearInterval(heartbeat);
    events.close();
    await chain;
    await store.folderWatcherRemove(registration).catch(() => {});
  };

  try {
    await syncNow();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    get root() {
      return model.root;
    },
    folder,
    syncNow,
    close,
  };
}
