/**
 * Workers a `worker start` launched that may not have registered yet. Until a worker has its
 * row in the store, `worker stop` cannot see it there, and a stop issued while a start was
 * still starting workers used to leave some of them running while both commands said they
 * had succeeded. Each start writes the pids it launches to a file of its own under
 * `$QUEUECTL_HOME/workers/` and removes it once every worker registered (or was rolled
 * back); `worker stop` stops the processes those files name, too, and removes the files.
 */

import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { isQueuectlProcess } from "./process-info.ts";

const PREFIX = "starting-";
const SUFFIX = ".pids";

function recordFile(dir: string, starterPid: number): string {
  return join(dir, `${PREFIX}${starterPid}${SUFFIX}`);
}

/**
 * Notes a worker this process has just launched into `dir` (the workers' log folder).
 * Returns false when a `worker stop` took the record since the start's first worker: this
 * one, launched after the stop read it, would be missed, so the start must stop them all.
 */
export function recordStarting(dir: string, pid: number, first: boolean): boolean {
  const taken = !first && !existsSync(recordFile(dir, process.pid));
  appendFileSync(recordFile(dir, process.pid), `${pid}\n`, { mode: 0o600 });
  return !taken;
}

/** False once a `worker stop` took this process's record: the start must not go on. */
export function recordStillOpen(dir: string): boolean {
  return existsSync(recordFile(dir, process.pid));
}

/** This process's start is over: its workers registered, or were stopped. */
export function forgetStarting(dir: string): void {
  rmSync(recordFile(dir, process.pid), { force: true });
}

/** Whether this process's record still names `pid`: false once a `worker stop` took it. */
export function stillStarting(dir: string, pid: number): boolean {
  try {
    return readFileSync(recordFile(dir, process.pid), "utf8").split("\n").includes(String(pid));
  } catch {
    return false;
  }
}

/**
 * The live worker processes every start's record names, for `worker stop` to stop; the
 * records are removed. A pid is only taken if its process started before its record was
 * last written, so a pid the kernel reused for something else is left alone.
 */
export function takeStartingWorkers(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith(PREFIX) && name.endsWith(SUFFIX));
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const name of names) {
    const path = join(dir, name);
    try {
      const recordedAt = statSync(path).mtimeMs;
      for (const line of readFileSync(path, "utf8").split("\n")) {
        const pid = Number(line.trim());
        if (Number.isInteger(pid) && pid > 0 && isQueuectlProcess(pid, "worker", recordedAt)) pids.add(pid);
      }
      rmSync(path, { force: true });
    } catch {
      // Removed by its start in the meantime: those workers registered and are in the store.
    }
  }
  return [...pids];
}
