/** The rules read from the store's folder records: which path names a folder, and when a watcher is alive. */

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { folderKey, isWatcherAlive, WATCHER_STALE_MS } from "../../src/jobfiles/sync-record.ts";
import type { FolderWatcher } from "../../src/store/folder-records.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";

let home: TempHome | undefined;
afterEach(() => home?.cleanup());

const T = 1_800_000_000_000;
const watcher: FolderWatcher = {
  folder: "/repo/jobs",
  host: "here",
  pid: 10,
  startedAt: T,
  heartbeatAt: T,
  lastError: null,
  lastErrorAt: null,
};

test("a watcher on this host is alive while its pid runs and its heartbeat is fresh", () => {
  const running = (pid: number) => pid === 10;
  expect(isWatcherAlive(watcher, { now: T + 1000, host: "here", isProcessAlive: running })).toBe(true);
  expect(isWatcherAlive(watcher, { now: T + 1000, host: "here", isProcessAlive: () => false })).toBe(false);
  expect(
    isWatcherAlive(watcher, { now: T + WATCHER_STALE_MS + 1, host: "here", isProcessAlive: running }),
  ).toBe(false);
});

test("a watcher on another host is judged by its heartbeat alone", () => {
  const check = { host: "elsewhere", isProcessAlive: () => false };
  expect(isWatcherAlive(watcher, { ...check, now: T + WATCHER_STALE_MS })).toBe(true);
  expect(isWatcherAlive(watcher, { ...check, now: T + WATCHER_STALE_MS + 1 })).toBe(false);
});

test("a folder's key resolves its parent's symlinks but keeps a symlinked folder's own name", () => {
  home = tempHome();
  const real = realpathSync(home.home);
  mkdirSync(join(real, "repo", "v2"), { recursive: true });
  symlinkSync(join(real, "repo"), join(real, "link-to-repo"));
  symlinkSync(join(real, "repo", "v2"), join(real, "repo", "jobs"));
  expect(folderKey(join(real, "link-to-repo", "jobs"))).toBe(join(real, "repo", "jobs"));
  expect(folderKey(join(real, "repo", "jobs/"))).toBe(join(real, "repo", "jobs"));
  expect(folderKey(join(real, "missing-parent", "jobs"))).toBe(join(real, "missing-parent", "jobs"));
});
