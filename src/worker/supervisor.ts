/**
 * `worker start`: launches detached `queuectl worker run` processes (and optionally one
 * `queuectl watch`) that outlive the command. Each writes its own log under
 * `$QUEUECTL_HOME/workers/`, capped at 10 MB with 3 rotated copies. The watcher's pid goes to a pidfile, since it has no row in
 * the worker registry, so that `worker stop` can find it.
 */

import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { runtimeError } from "../core/errors.ts";
import type { Store } from "../store/store.ts";
import { ROTATE_LOG_ENV } from "./log-rotation.ts";

/** The CLI entry the detached processes run; resolved from this file, not from the cwd. */
const CLI_PATH = resolve(import.meta.dir, "../cli.ts");
/** How long a new worker may take to register before `worker start` stops waiting for it. */
const REGISTER_WAIT_MS = 10_000;
/** A watcher that lives this long got past parsing its arguments and opening the store. */
const WATCH_SETTLE_MS = 500;

export interface StartParams {
  home: string;
  count: number;
  concurrency: number;
  /** `--prefetch` for each worker; null leaves the worker's default. */
  prefetch: number | null;
  queues: string[] | null;
  /** A jobs folder to keep in sync with `queuectl watch`, or null. */
  watchDir: string | null;
  /** `--db` as given; QUEUECTL_DB reaches the children through the environment anyway. */
  dbUrl: string | undefined;
}

export interface StartedProcess {
  pid: number;
  log: string;
}

export function workerLogDir(home: string): string {
  return join(home, "workers");
}

export function watchPidfile(home: string): string {
  return join(home, "watch.pid");
}

/** Pids recorded in the watcher pidfile, one per line. */
export function readWatchPids(home: string): number[] {
  try {
    return readFileSync(watchPidfile(home), "utf8")
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  } catch {
    return [];
  }
}

function spawnDetached(home: string, role: string, args: string[]): { child: Bun.Subprocess; log: string } {
  const dir = workerLogDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pending = join(dir, `${role}-starting-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(pending, "a", 0o600);
  try {
    const child = Bun.spawn([process.execPath, CLI_PATH, ...args], {
      detached: true,
      stdio: ["ignore", fd, fd],
      // The child caps and rotates its own log (see log-rotation.ts); it knows its pid, we do not yet.
      env: { ...process.env, [ROTATE_LOG_ENV]: join(dir, `${role}-{pid}.log`) },
    });
    const log = join(dir, `${role}-${child.pid}.log`);
    renameSync(pending, log);
    return { child, log };
  } finally {
    closeSync(fd);
  }
}

function lastLogLine(log: string): string {
  try {
    return readFileSync(log, "utf8").trim().split("\n").pop() ?? "";
  } catch {
    return "";
  }
}

function globalArgs(dbUrl: string | undefined): string[] {
  return dbUrl === undefined ? [] : ["--db", dbUrl];
}

async function waitForRegistration(store: Store, children: Bun.Subprocess[], logs: string[]): Promise<void> {
  const deadline = Date.now() + REGISTER_WAIT_MS;
  const exited = new Set<number>();
  for (const child of children) child.exited.then(() => exited.add(child.pid));
  while (Date.now() < deadline) {
    const registered = new Set((await store.workerList()).map((worker) => worker.pid));
    const failed = children.findIndex((child) => exited.has(child.pid) && !registered.has(child.pid));
    if (failed >= 0) {
      const child = children[failed] as Bun.Subprocess;
      const log = logs[failed] ?? "";
      throw runtimeError(
        `worker ${child.pid} exited at start with code ${child.exitCode}: ${lastLogLine(log)}`,
        `see ${log}`,
      );
    }
    if (children.every((child) => registered.has(child.pid))) return;
    await Bun.sleep(50);
  }
}

export async function startWorkers(
  store: Store,
  params: StartParams,
): Promise<{ workers: StartedProcess[]; watcher: StartedProcess | null }> {
  const runArgs = [...globalArgs(params.dbUrl), "worker", "run", "--concurrency", String(params.concurrency)];
  if (params.queues) runArgs.push("--queue", params.queues.join(","));
  if (params.prefetch !== null) runArgs.push("--prefetch", String(params.prefetch));
  const spawned = Array.from({ length: params.count }, () => spawnDetached(params.home, "worker", runArgs));
  try {
    await waitForRegistration(
      store,
      spawned.map((s) => s.child),
      spawned.map((s) => s.log),
    );
  } finally {
    for (const { child } of spawned) child.unref();
  }
  const workers = spawned.map(({ child, log }) => ({ pid: child.pid, log }));
  if (params.watchDir === null) return { workers, watcher: null };

  const { child, log } = spawnDetached(params.home, "watch", [
    ...globalArgs(params.dbUrl),
    "watch",
    resolve(params.watchDir),
  ]);
  appendFileSync(watchPidfile(params.home), `${child.pid}\n`, { mode: 0o600 });
  const early = await Promise.race([child.exited, Bun.sleep(WATCH_SETTLE_MS).then(() => null)]);
  child.unref();
  if (early !== null) {
    throw runtimeError(
      `the watcher exited at start with code ${early}: ${lastLogLine(log)}; the workers are running`,
      `see ${log}; stop the workers with \`queuectl worker stop\``,
    );
  }
  return { workers, watcher: { pid: child.pid, log } };
}
