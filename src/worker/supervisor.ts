/**
 * `worker start`: launches detached `queuectl worker run` processes (and optionally one
 * `queuectl watch`) that outlive the command. Each writes its own log under
 * `$QUEUECTL_HOME/workers/`, capped at 10 MB with 3 rotated copies. The watcher's pid goes to a pidfile, since it has no row in
 * the worker registry, so that `worker stop` can find it.
 *
 * All or nothing: it succeeds once every worker registered (and the watcher settled). If
 * one exits first, or does not register in time, every process it started is stopped and
 * waited for before the failure is reported, so a failed start leaves nothing running that
 * the user would have to find (a worker not yet registered is invisible to `worker stop`),
 * and running it again cannot double the workers. A signal to the command while it starts
 * them (Ctrl-C) undoes the start the same way (start-interrupt.ts).
 */

import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { selfCommand } from "../cli-self.ts";
import { runtimeError } from "../core/errors.ts";
import { hostName } from "../core/home.ts";
import type { Store } from "../store/store.ts";
import { ROTATE_LOG_ENV } from "./log-rotation.ts";
import { isProcessAlive, signalProcess } from "./process-info.ts";
import { releaseOrKill, STOP_SIGNAL } from "./signals.ts";
import { StartInterrupt } from "./start-interrupt.ts";
import { forgetStarting, recordStarting, recordStillOpen, stillStarting } from "./starting-workers.ts";

/** The CLI entry the detached processes run; resolved from this file, not from the cwd. */
/**
 * The most workers one `worker start` launches. Each is a Bun process of about 50 MB that
 * takes some 200 ms of CPU to start: 64 of them took 13 s to register on a 2-core machine
 * and held 3.2 GB. All of them share one SQLite writer lock for claims, renewals and
 * results, and a thousand made starting workers fail on a lock held past the busy timeout.
 * More jobs at once come cheaper from `--concurrency`, which shares a process and its
 * store connection.
 */
export const MAX_WORKER_COUNT = 64;
/** How long the new workers may take to register: they start one after another on a busy host. */
function registerWaitMs(count: number): number {
  return 10_000 + 500 * count;
}
/** After SIGKILL, how long a process may take to be gone. */
const KILLED_WAIT_MS = 5_000;
/**
 * How long a watcher may take to register on its folder. A fixed wait for it to stay alive
 * was too short on a loaded machine, where a failing watcher could still be starting.
 */
const WATCH_REGISTER_MS = 10_000;

export interface StartParams {
  home: string;
  count: number;
  concurrency: number;
  /** `--prefetch` for each worker; null leaves the worker's default. */
  prefetch: number | null;
  queues: string[] | null;
  /** A jobs folder to keep in sync with `queuectl watch`, or null. */
  watchDir: string | null;
  /** The watcher reads a folder that others can write (`watch --allow-shared-folder`). Default false. */
  allowSharedFolder?: boolean;
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

/**
 * `dbUrl` (the parent's `--db`) reaches the child as QUEUECTL_DB, not as an argument: a
 * PostgreSQL URL may hold a password, and a long-lived process's arguments are readable by
 * every local user (ps, /proc/PID/cmdline); its environment is not.
 */
function spawnDetached(
  home: string,
  role: string,
  args: string[],
  dbUrl: string | undefined,
): { child: Bun.Subprocess; log: string } {
  const dir = workerLogDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pending = join(dir, `${role}-starting-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(pending, "a", 0o600);
  try {
    const child = Bun.spawn([...selfCommand(), ...args], {
      detached: true,
      stdio: ["ignore", fd, fd],
      // The child caps and rotates its own log (see log-rotation.ts); it knows its pid, we do not yet.
      env: {
        ...process.env,
        ...(dbUrl === undefined ? {} : { QUEUECTL_DB: dbUrl }),
        [ROTATE_LOG_ENV]: join(dir, `${role}-{pid}.log`),
      },
    });
    const log = join(dir, `${role}-${child.pid}.log`);
    renameSync(pending, log);
    return { child, log };
  } finally {
    closeSync(fd);
  }
}

/** ": the line", or nothing for an empty one. */
function detail(line: string): string {
  return line === "" ? "" : `: ${line}`;
}

function lastLogLine(log: string): string {
  try {
    return readFileSync(log, "utf8").trim().split("\n").pop() ?? "";
  } catch {
    return "";
  }
}

/** Why the start failed, with the log that says more; null once every child registered. */
async function waitForRegistration(
  store: Store,
  spawned: { child: Bun.Subprocess; log: string }[],
  logDir: string,
  interrupt: StartInterrupt,
): Promise<{ message: string; log: string } | null> {
  const deadline = Date.now() + registerWaitMs(spawned.length);
  const exited = new Set<number>();
  for (const { child } of spawned) child.exited.then(() => exited.add(child.pid));
  // Kept across reads: a worker that registered and was then stopped by someone did start.
  const registered = new Set<number>();
  for (;;) {
    if (interrupt.interrupted) return { message: "interrupted", log: logDir };
    for (const worker of await store.workerList()) registered.add(worker.pid);
    const failed = spawned.find(({ child }) => exited.has(child.pid) && !registered.has(child.pid));
    if (failed) {
      const { child, log } = failed;
      if (!stillStarting(logDir, child.pid))
        return {
          message: `worker ${child.pid} was stopped by \`queuectl worker stop\` before it registered`,
          log,
        };
      const how = child.signalCode
        ? `was killed by ${child.signalCode}`
        : `exited with code ${child.exitCode}`;
      const said = lastLogLine(log);
      return { message: `worker ${child.pid} ${how} at start${said ? `: ${said}` : ""}`, log };
    }
    const waiting = spawned.filter(({ child }) => !registered.has(child.pid));
    if (waiting.length === 0) return null;
    if (Date.now() >= deadline) {
      const [first] = waiting;
      return {
        message: `${waiting.length} worker(s) did not register within ${registerWaitMs(spawned.length) / 1000}s (PIDs: ${waiting.map(({ child }) => child.pid).join(", ")})`,
        log: first?.log ?? "",
      };
    }
    await Bun.sleep(50);
  }
}

/**
 * Stops every process this start launched, as `worker stop --timeout 0` would (a job one
 * already claimed goes back to pending), and waits until they are gone. Rows of workers
 * that had to be killed are removed, since they cannot remove their own.
 */
async function rollBack(store: Store, children: Bun.Subprocess[]): Promise<void> {
  const alive = children.filter((child) => isProcessAlive(child.pid));
  for (const child of alive) signalProcess(child.pid, STOP_SIGNAL);
  const ends = await Promise.all(alive.map((child) => releaseOrKill(child.pid, true)));
  const killed = alive.filter((_, i) => ends[i] === "killed").map((child) => child.pid);
  // SIGKILL cannot be refused, but a process in uninterruptible sleep takes it late.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(alive.map((child) => child.exited)),
    new Promise((resolve) => {
      timer = setTimeout(resolve, KILLED_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (killed.length === 0) return;
  const host = hostName();
  for (const worker of await store.workerList()) {
    if (worker.host === host && killed.includes(worker.pid)) await store.workerRemove({ id: worker.id });
  }
}

/**
 * The failure to report once everything this start launched is gone again; an interrupted
 * start says so instead, and exits as signalled.
 */
function startFailure(reason: string, log: string, stopped: number, interrupt: StartInterrupt): Error {
  if (interrupt.interrupted) return interrupt.failure(stopped);
  const rolledBack =
    stopped > 0 ? `; stopped the ${stopped} worker(s) it had started, none is left running` : "";
  return runtimeError(
    `${reason}${rolledBack}`,
    `see ${log}, fix the cause and run \`queuectl worker start\` again`,
  );
}

export async function startWorkers(
  store: Store,
  params: StartParams,
): Promise<{ workers: StartedProcess[]; watcher: StartedProcess | null }> {
  const runArgs = ["worker", "run", "--concurrency", String(params.concurrency)];
  if (params.queues) runArgs.push("--queue", params.queues.join(","));
  if (params.prefetch !== null) runArgs.push("--prefetch", String(params.prefetch));
  const spawned: { child: Bun.Subprocess; log: string }[] = [];
  const logDir = workerLogDir(params.home);
  const interrupt = new StartInterrupt();
  const watchers: Bun.Subprocess[] = [];
  try {
    const started = await launch(store, params, { runArgs, spawned, logDir, interrupt, watchers });
    // A signal caught after the launch's last look (during its last read of the store) undoes
    // the start all the same: once the handlers are gone it would go unheard.
    if (interrupt.interrupted) {
      const all = [...spawned.map(({ child }) => child), ...watchers];
      const running = all.filter((child) => isProcessAlive(child.pid)).length;
      await rollBack(store, all);
      throw interrupt.failure(running);
    }
    return started;
  } finally {
    interrupt.close();
  }
}

/** startWorkers once its signals are caught: `spawned` fills as the workers start. */
async function launch(
  store: Store,
  params: StartParams,
  run: {
    runArgs: string[];
    spawned: { child: Bun.Subprocess; log: string }[];
    logDir: string;
    interrupt: StartInterrupt;
    /** Filled with the watcher's process once it is spawned. */
    watchers: Bun.Subprocess[];
  },
): Promise<{ workers: StartedProcess[]; watcher: StartedProcess | null }> {
  const { runArgs, spawned, logDir, interrupt } = run;
  const children = () => spawned.map(({ child }) => child);
  let stoppedAt: number | null = null;
  try {
    for (let n = 0; n < params.count && stoppedAt === null && !interrupt.interrupted; n++) {
      const started = spawnDetached(params.home, "worker", runArgs, params.dbUrl);
      spawned.push(started);
      if (!recordStarting(logDir, started.child.pid, n === 0)) stoppedAt = n + 1;
    }
  } catch (error) {
    // Out of processes or memory part way: the ones already started must not be left behind.
    const started = spawned.length;
    await rollBack(store, children());
    for (const child of children()) child.unref();
    forgetStarting(logDir);
    throw startFailure(
      `cannot start worker ${started + 1} of ${params.count}: ${(error as Error).message}`,
      workerLogDir(params.home),
      started,
      interrupt,
    );
  }
  if (stoppedAt !== null || interrupt.interrupted) {
    // A stop took the record before this worker was in it, so it stops the others only.
    await rollBack(store, children());
    for (const child of children()) child.unref();
    forgetStarting(logDir);
    const reason = `\`queuectl worker stop\` came while worker ${stoppedAt} of ${params.count} was starting`;
    throw startFailure(reason, logDir, spawned.length, interrupt);
  }
  try {
    const failure = await waitForRegistration(store, spawned, logDir, interrupt);
    if (failure) {
      const running = children().filter((child) => isProcessAlive(child.pid)).length;
      await rollBack(store, children());
      throw startFailure(failure.message, failure.log, running, interrupt);
    }
    const workers = spawned.map(({ child, log }) => ({ pid: child.pid, log }));
    if (params.watchDir === null) return { workers, watcher: null };
    // A stop that took the record did not see the watcher (its pidfile may come too late):
    // the start stops everything and fails, before the watcher and once more after it.
    const stopped = "`queuectl worker stop` came while the watcher was starting";
    if (!recordStillOpen(logDir) || interrupt.interrupted) {
      await rollBack(store, children());
      throw startFailure(stopped, logDir, spawned.length, interrupt);
    }
    const watcher = await startWatcher(store, params, params.watchDir, { interrupt, spawned: run.watchers });
    if ("failure" in watcher) {
      // One that did not register in time, or whose start was interrupted, may still run.
      const watching = isProcessAlive(watcher.child.pid) ? 1 : 0;
      await rollBack(store, [...children(), watcher.child]);
      throw startFailure(watcher.failure, watcher.log, spawned.length + watching, interrupt);
    }
    if (!recordStillOpen(logDir)) {
      signalProcess(watcher.pid, STOP_SIGNAL);
      await rollBack(store, children());
      throw startFailure(stopped, watcher.log, spawned.length, interrupt);
    }
    return { workers, watcher };
  } finally {
    for (const child of children()) child.unref();
    forgetStarting(logDir);
  }
}

/** The watcher, once it registered on its folder; or why it did not. */
async function startWatcher(
  store: Store,
  params: StartParams,
  dir: string,
  started: { interrupt: StartInterrupt; spawned: Bun.Subprocess[] },
): Promise<StartedProcess | { failure: string; log: string; child: Bun.Subprocess }> {
  const { interrupt } = started;
  const shared = params.allowSharedFolder ? ["--allow-shared-folder"] : [];
  const { child, log } = spawnDetached(
    params.home,
    "watch",
    ["watch", resolve(dir), ...shared],
    params.dbUrl,
  );
  started.spawned.push(child);
  appendFileSync(watchPidfile(params.home), `${child.pid}\n`, { mode: 0o600 });
  let exitCode: number | null = null;
  child.exited.then((code) => {
    exitCode = code;
  });
  const host = hostName();
  const deadline = Date.now() + WATCH_REGISTER_MS;
  try {
    for (;;) {
      const folders = await store.folderList();
      if (
        folders.some((folder) =>
          folder.watchers.some((watcher) => watcher.pid === child.pid && watcher.host === host),
        )
      ) {
        return { pid: child.pid, log };
      }
      if (exitCode !== null)
        return {
          failure: `the watcher exited at start with code ${exitCode}${detail(lastLogLine(log))}`,
          log,
          child,
        };
      if (interrupt.interrupted) return { failure: "interrupted", log, child };
      if (Date.now() >= deadline)
        return { failure: `the watcher did not register within ${WATCH_REGISTER_MS / 1000}s`, log, child };
      await Bun.sleep(50);
    }
  } finally {
    child.unref();
  }
}
