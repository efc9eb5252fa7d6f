/**
 * Size caps for the logs of background workers and watchers (`$QUEUECTL_HOME/workers/`).
 * Their stdout and stderr are the log file itself, opened for appending by `worker start`
 * before the process exists, so the process rotates its own log the way logrotate's
 * `copytruncate` does: copy the file to `.1` (shifting `.1` to `.2` …), then truncate it.
 * Appends after the truncation land at the new end, so nothing holds a stale offset.
 * A line written between the copy and the truncation can be lost; that is the price of
 * never reopening stdout.
 */

import { copyFileSync, renameSync, rmSync, statSync, truncateSync } from "node:fs";

/** A log rotates once it reaches this size. */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** Rotated copies kept (`.1` newest … `.3` oldest), so one process's logs stay under 40 MB. */
export const LOG_ROTATE_KEEP = 3;
/** How often a running process looks at its log's size. */
const CHECK_EVERY_MS = 10_000;

/** The environment variable `worker start` sets for its children; `{pid}` is the child's pid. */
export const ROTATE_LOG_ENV = "QUEUECTL_ROTATE_LOG";

/** Rotates `path` when it is at least `maxBytes`; returns whether it did. */
export function rotateIfLarge(path: string, maxBytes = LOG_ROTATE_BYTES, keep = LOG_ROTATE_KEEP): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size < maxBytes) return false;
  rmSync(`${path}.${keep}`, { force: true });
  for (let index = keep - 1; index >= 1; index--) {
    try {
      renameSync(`${path}.${index}`, `${path}.${index + 1}`);
    } catch {
      // That generation does not exist yet.
    }
  }
  if (keep >= 1) copyFileSync(path, `${path}.1`);
  truncateSync(path, 0);
  return true;
}

/**
 * Checks the log every few seconds for as long as the process runs. The timer is unref'd,
 * so it never keeps a finished process alive; a failed check (disk full, file removed)
 * leaves the log as it is rather than stopping the worker.
 */
export function keepLogRotated(path: string): void {
  const timer = setInterval(() => {
    try {
      rotateIfLarge(path);
    } catch {
      // Logging must never take the worker down.
    }
  }, CHECK_EVERY_MS);
  timer.unref();
}
