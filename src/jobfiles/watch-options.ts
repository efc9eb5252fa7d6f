/**
 * What a jobfile watcher (watch.ts) is given and what it gives back: its options, each with
 * its default, the identity it registers under, and its handle.
 */

import type { Store } from "../store/store.ts";
import type { SyncOutcome } from "./sync-outcome.ts";

export interface WatcherIdentity {
  host: string;
  pid: number;
  /** Whether a pid on this host runs; a watcher of this folder that does not is replaced. */
  isProcessAlive: (pid: number) => boolean;
}

export interface WatcherOptions {
  store: Store;
  dir: string;
  /** Read a folder that others can write. Default false. */
  allowSharedFolder?: boolean;
  /** How often the whole folder is synced even without events, in ms. Default 60000. */
  resyncMs?: number;
  /** How long a file must hold still before it is read, and stay away before it counts as removed, in ms. Default 100. */
  settleMs?: number;
  /** Events this close together (ms) make one burst and one sync. Default 25. */
  debounceMs?: number;
  /**
   * The longest a settings change holds the folder's syncs while it is still being written
   * (settings-change.ts), in ms. Default 30000.
   */
  maxSettingsHoldMs?: number;
  /** How often the watcher's heartbeat is written to the store, in ms. Default 10000. */
  heartbeatMs?: number;
  /**
   * Who registers as the folder's watcher. Default: this host and pid, with every recorded
   * pid taken as running, so a dead watcher is only replaced once its heartbeat is stale.
   */
  identity?: WatcherIdentity;
  /** This host's clock, for deciding that a file has settled (file times are this host's). Default Date.now. */
  now?: () => number;
  /**
   * The store's clock, for what the watcher writes: job times, its claim and heartbeats, which
   * every host judges on the store's clock (PostgreSQL's server). Default `now`.
   */
  storeNow?: () => number;
  /** After every sync, including those that changed nothing. */
  onSync?: (outcome: SyncOutcome) => void;
  /** A sync that failed as a whole (folder removed, store locked). The watcher keeps going. */
  onError?: (error: unknown) => void;
}

export interface JobfileWatcher {
  /** The folder's real path now (it follows a symlinked folder to its new target). */
  readonly root: string;
  /** The folder as the store records it. */
  readonly folder: string;
  /**
   * A full sync now, or right after the running one; resolves with its outcome, or null when
   * a settings change holds it (the folder is being checked out: it is synced once quiet).
   */
  syncNow(): Promise<SyncOutcome | null>;
  /** Stops watching and waits for a running sync to finish. Does not close the store. */
  close(): Promise<void>;
}

/** An error as the one line the store records for the watcher: its message and hint. */
export function errorText(error: unknown): string {
  const hint = (error as { hint?: unknown })?.hint;
  const message = String((error as Error)?.message ?? error);
  return typeof hint === "string" && hint !== "" ? `${message} — ${hint}` : message;
}
