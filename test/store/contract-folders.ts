/** Contract: the store's record of jobfile folders (last sync, watchers), alike on every backend. */

import { expect, test } from "bun:test";
import type { FolderSyncRun } from "../../src/store/folder-records.ts";
import { T0, type WithStore } from "./contract-helpers.ts";

const RUN: FolderSyncRun = {
  folder: "/repo/jobs",
  target: "/repo/jobs-v2",
  at: T0,
  host: "host-a",
  pid: 41,
  by: "watch",
  files: 3,
  created: 2,
  updated: 1,
  canceled: 0,
  unchanged: 0,
  problems: 2,
  problemList: [{ file: "bad.yaml", line: 2, column: 1, message: "`max_retry` is not a job field" }],
};

export function foldersContract(withStore: WithStore): void {
  test(
    "a folder's last sync replaces the one before and is listed with the folder's watchers",
    withStore(async ({ store, another }) => {
      expect(await store.folderList()).toEqual([]);
      await store.folderSyncRecord({ ...RUN, at: T0 - 10, created: 9 });
      await store.folderSyncRecord(RUN);
      await store.folderSyncRecord({ ...RUN, folder: "/other/jobs", target: "/other/jobs", by: "sync" });
      expect(
        await store.folderWatcherClaim({
          folder: "/repo/jobs",
          host: "h",
          pid: 7,
          now: T0,
          replacePid: null,
        }),
      ).toBe(true);
      const folders = await (await another()).folderList();
      expect(folders.map((folder) => folder.folder)).toEqual(["/other/jobs", "/repo/jobs"]);
      expect(folders[1]).toEqual({
        folder: "/repo/jobs",
        lastSync: RUN,
        watchers: [
          {
            folder: "/repo/jobs",
            host: "h",
            pid: 7,
            startedAt: T0,
            heartbeatAt: T0,
            lastError: null,
            lastErrorAt: null,
          },
        ],
      });
      expect(folders[0]?.watchers).toEqual([]);
    }),
  );

  test(
    "one watcher per folder and host: a second is refused unless it replaces the pid the caller found dead",
    withStore(async ({ store, another }) => {
      const claim = { folder: "/repo/jobs", host: "h", now: T0, replacePid: null };
      expect(await store.folderWatcherClaim({ ...claim, pid: 7 })).toBe(true);
      expect(await (await another()).folderWatcherClaim({ ...claim, pid: 8 })).toBe(false);
      expect(await store.folderWatcherClaim({ ...claim, pid: 8, replacePid: 6 })).toBe(false);
      // Another host may watch the same path (its own checkout): it has its own row.
      expect(await store.folderWatcherClaim({ ...claim, host: "other", pid: 7 })).toBe(true);
      expect(await store.folderWatcherClaim({ ...claim, pid: 8, replacePid: 7, now: T0 + 5 })).toBe(true);
      const [folder] = await store.folderList();
      expect(folder?.watchers.map((watcher) => [watcher.host, watcher.pid, watcher.startedAt])).toEqual([
        ["h", 8, T0 + 5],
        ["other", 7, T0],
      ]);
      await store.folderWatcherRemove({ folder: "/repo/jobs", host: "h", pid: 7 });
      expect((await store.folderList())[0]?.watchers).toHaveLength(2);
      await store.folderWatcherRemove({ folder: "/repo/jobs", host: "h", pid: 8 });
      expect(await store.folderWatcherClaim({ ...claim, pid: 9 })).toBe(true);
    }),
  );

  test(
    "a heartbeat refreshes only its own row and keeps the last error until another replaces it",
    withStore(async ({ store }) => {
      await store.folderWatcherClaim({ folder: "/f", host: "h", pid: 7, now: T0, replacePid: null });
      await store.folderWatcherBeat({
        folder: "/f",
        host: "h",
        pid: 7,
        now: T0 + 1,
        error: "store is locked",
      });
      await store.folderWatcherBeat({ folder: "/f", host: "h", pid: 7, now: T0 + 2 });
      await store.folderWatcherBeat({ folder: "/f", host: "h", pid: 99, now: T0 + 9, error: "not mine" });
      expect((await store.folderList())[0]?.watchers[0]).toMatchObject({
        heartbeatAt: T0 + 2,
        lastError: "store is locked",
        lastErrorAt: T0 + 1,
      });
      await store.folderWatcherBeat({
        folder: "/f",
        host: "h",
        pid: 7,
        now: T0 + 3,
        error: "folder missing",
      });
      expect((await store.folderList())[0]?.watchers[0]).toMatchObject({
        lastError: "folder missing",
        lastErrorAt: T0 + 3,
      });
    }),
  );
}
