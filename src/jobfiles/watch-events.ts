/**
 * Where the watcher's events come from: one recursive fs.watch on the folder's real path
 * (inotify on Linux, FSEvents on macOS: no polling, so an idle watcher costs nothing), and
 * one plain fs.watch on the folder's parent, which sees `ln -sfn other jobs` replace the link.
 */

import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve, sep } from "node:path";
import { SETTINGS_FILE } from "./folder-settings.ts";
import { isIgnoredName } from "./scan.ts";

export interface FolderEvents {
  /** Watches the tree at `root` instead of the one watched so far. */
  retarget(root: string): void;
  /** Whether the watch of the folder's tree failed or reported an error since it was set up. */
  treeFailed(): boolean;
  close(): void;
}

export interface FolderEventHandlers {
  /** A path under the folder changed (forward slashes), or null: something changed, look at everything. */
  onPath: (rel: string | null) => void;
  /**
   * Whether a jobfile is read through `rel`, a symlink's target: a target in a hidden or
   * ignored folder (`.src/`) is no jobfile, yet an edit of it is an edit of the link's job.
   */
  isLinkTarget: (rel: string) => boolean;
  /** The folder's own entry in its parent changed (a symlink re-pointed, the folder replaced). */
  onFolderEntry: () => void;
  onError: (error: unknown) => void;
}

function isIgnoredRel(rel: string): boolean {
  return rel.split("/").some(isIgnoredName);
}

export function watchFolder(dir: string, root: string, handlers: FolderEventHandlers): FolderEvents {
  let tree: FSWatcher | null = null;
  let treeFailed = false;
  const watchTree = (target: string) => {
    tree?.close();
    tree = null;
    treeFailed = false;
    try {
      tree = watch(target, { recursive: true }, (_event, name) => {
        if (name === null || name === undefined) return handlers.onPath(null);
        const rel = String(name).split(sep).join("/");
        if (rel === SETTINGS_FILE || (rel !== "" && (!isIgnoredRel(rel) || handlers.isLinkTarget(rel))))
          handlers.onPath(rel);
      });
      // The watched folder itself went away: only a full sync can tell what is there now.
      tree.on("error", (error) => {
        treeFailed = true;
        handlers.onError(error);
        handlers.onPath(null);
      });
    } catch (error) {
      treeFailed = true;
      handlers.onError(error);
    }
  };
  watchTree(root);

  const absolute = resolve(dir);
  const name = basename(absolute);
  let parent: FSWatcher | null = null;
  try {
    parent = watch(dirname(absolute), (_event, changed) => {
      if (changed === null || String(changed) === name) handlers.onFolderEntry();
    });
    parent.on("error", () => {});
  } catch {
    // An unreadable parent: the periodic full sync still notices a re-pointed link.
  }

  return {
    retarget: watchTree,
    treeFailed: () => treeFailed,
    close() {
      tree?.close();
      parent?.close();
    },
  };
}
