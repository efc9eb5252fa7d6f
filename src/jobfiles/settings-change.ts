/**
 * A change of the folder's `.queuectl.yaml` renames every job it declares, so the watcher
 * must apply it together with the jobfiles of the same checkout, never beside files of
 * another. A branch switch rewrites the settings file and the jobfiles one after another:
 * synced at the first event, the new namespace met the old files (and a path sync of the
 * new files met the old namespace), queuing jobs under ids no commit declares, and running
 * finished work again under them.
 *
 * So once the settings file changes, the watcher holds every sync of the folder until no
 * event has come for the settle time and git (when the folder is in a work tree) no longer
 * holds its index lock, which it keeps while a checkout, merge or rebase writes files; then
 * one full sync applies the folder as it stands. A folder that never falls quiet is synced
 * after MAX_HOLD_MS anyway.
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { SETTINGS_FILE } from "./folder-settings.ts";

/** The longest a settings change waits for the folder to fall quiet (30 s). */
export const MAX_HOLD_MS = 30_000;

/**
 * The git index lock of the work tree holding `root`, or null when `root` is in none. A
 * linked work tree's `.git` is a file naming its own git folder (`gitdir: …`).
 */
export function gitIndexLockOf(root: string): string | null {
  for (let dir = resolve(root); ; dir = dirname(dir)) {
    const dotGit = join(dir, ".git");
    try {
      const stats = statSync(dotGit);
      if (stats.isDirectory()) return join(dotGit, "index.lock");
      const named = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, "utf8"))?.[1];
      if (named === undefined) return null;
      return join(isAbsolute(named) ? named : resolve(dir, named), "index.lock");
    } catch {
      // No `.git` here: look further up.
    }
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The settings file as it stands on disk (its inode, size and times), or "absent": a full
 * sync compares it from before its reads to after them. Git writes a checkout's files in
 * index order, and `.queuectl.yaml` sorts before every jobfile beside it, so a checkout
 * that wrote any jobfile during the reads has rewritten the settings file first, and
 * changed its stamp even when it went back to the same text (a switch there and back).
 */
export function settingsStamp(root: string): string {
  try {
    const stats = statSync(join(root, SETTINGS_FILE), { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch {
    return "absent";
  }
}

export interface SettingsChangeOptions {
  root: () => string;
  /** How long the folder must stay without events, in ms. */
  quietMs: number;
  /**
   * The full sync that applies the change. `atLongest`: the hold ended at its longest, not
   * because the folder fell quiet; that sync then applies the folder as it stands, whatever
   * changes under it, or a folder that never settles would never be synced.
   */
  onQuiet: (atLongest: boolean) => void;
  /** The longest hold, in ms. Default MAX_HOLD_MS. */
  maxHoldMs?: number;
}

/** Holds the watcher's syncs from a settings change until the folder is quiet. */
export class SettingsChangeHold {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private since = 0;

  constructor(private readonly options: SettingsChangeOptions) {}

  /** True while a settings change waits: the watcher then syncs nothing else. */
  get holding(): boolean {
    return this.timer !== null;
  }

  /** The settings file changed: hold from now, or go on holding (up to MAX_HOLD_MS in all). */
  settingsChanged(): void {
    if (this.timer === null) this.since = Date.now();
    this.restartQuiet();
  }

  /** Any other event in the folder: while holding, it restarts the quiet time (up to MAX_HOLD_MS). */
  folderChanged(): void {
    if (this.timer !== null) this.restartQuiet();
  }

  private restartQuiet(): void {
    if (Date.now() - this.since < this.maxHoldMs) this.arm(this.options.quietMs);
  }

  private get maxHoldMs(): number {
    return this.options.maxHoldMs ?? MAX_HOLD_MS;
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(delayMs: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), delayMs);
  }

  private check(): void {
    const lock = gitIndexLockOf(this.options.root());
    const longest = Date.now() - this.since >= this.maxHoldMs;
    if (lock !== null && existsSync(lock) && !longest) {
      this.arm(this.options.quietMs);
      return;
    }
    this.timer = null;
    this.options.onQuiet(longest);
  }
}
