/**
 * Jobfile folders as `status` and the dashboard show them: each folder's last sync, its
 * watchers with whether they are alive, and its problems. One JSON shape for both, and the
 * human lines of `status` built from it.
 */

import { shellWord } from "../core/errors.ts";
import { isWatcherAlive, type LivenessCheck } from "../jobfiles/sync-record.ts";
import { colors, iso, safeText } from "../render.ts";
import type { JobfileFolder } from "../store/folder-records.ts";

export function folderJson(folder: JobfileFolder, check: LivenessCheck) {
  const run = folder.lastSync;
  return {
    folder: folder.folder,
    last_sync: run && {
      at: iso(run.at),
      age_ms: check.now - run.at,
      by: run.by,
      host: run.host,
      pid: run.pid,
      target: run.target,
      files: run.files,
      created: run.created,
      updated: run.updated,
      canceled: run.canceled,
      unchanged: run.unchanged,
      problems: run.problems,
      problem_list: run.problemList,
    },
    watchers: folder.watchers.map((watcher) => ({
      host: watcher.host,
      pid: watcher.pid,
      alive: isWatcherAlive(watcher, check),
      started_at: iso(watcher.startedAt),
      heartbeat_age_ms: check.now - watcher.heartbeatAt,
      last_error: watcher.lastError,
      last_error_at: iso(watcher.lastErrorAt),
    })),
  };
}

export type FolderJson = ReturnType<typeof folderJson>;

function ago(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

/** Problems of a folder's last sync that `status` lists; the count says how many more there are. */
const PROBLEMS_SHOWN = 3;

/** The "Jobfile folders" block of `status`, indented like its other blocks. */
export function folderLines(folders: FolderJson[]): string[] {
  if (folders.length === 0) return ["  (none synced yet; run `queuectl sync` or `queuectl watch`)"];
  const lines: string[] = [];
  for (const folder of folders) {
    const run = folder.last_sync;
    const target = run && run.target !== folder.folder ? ` → ${safeText(run.target)}` : "";
    lines.push(`  ${safeText(folder.folder)}${target}`);
    if (run) {
      const problems =
        run.problems === 0 ? colors.green("no problems") : colors.red(`${run.problems} problem(s)`);
      lines.push(
        `    last sync ${ago(run.age_ms)} by ${run.by} on ${safeText(run.host)} (pid ${run.pid}): ${run.files} file(s), ${run.created} created, ${run.updated} updated, ${run.canceled} canceled; ${problems}`,
      );
      const shown = run.problem_list.slice(0, PROBLEMS_SHOWN);
      for (const problem of shown) {
        lines.push(
          colors.dim(
            `      ${safeText(`${problem.file}:${problem.line}:${problem.column}: ${problem.message}`)}`,
          ),
        );
      }
      const more = run.problems - shown.length;
      if (more > 0) {
        const folderWord = safeText(shellWord(folder.folder));
        lines.push(
          colors.dim(`      … and ${more} more: queuectl sync --dry-run ${folderWord} lists them all`),
        );
      }
    }
    if (folder.watchers.length === 0) lines.push(colors.dim("    no watcher"));
    for (const watcher of folder.watchers) {
      const health = watcher.alive
        ? colors.green(`alive (heartbeat ${ago(watcher.heartbeat_age_ms)})`)
        : colors.red(`lost (no heartbeat for ${Math.round(watcher.heartbeat_age_ms / 1000)}s)`);
      lines.push(`    watcher on ${safeText(watcher.host)} (pid ${watcher.pid}): ${health}`);
      if (watcher.last_error && watcher.last_error_at) {
        lines.push(colors.red(`      last error ${watcher.last_error_at}: ${safeText(watcher.last_error)}`));
      }
    }
  }
  return lines;
}
