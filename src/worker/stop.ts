/**
 * `worker stop`: SIGTERM to this host's workers and watchers, then wait. A worker stops
 * claiming and finishes its running jobs. When the timeout runs out, a second SIGTERM
 * makes it stop those jobs and hand them back to pending (not counted as an attempt).
 * Only a worker that ignores even that gets SIGKILL; its jobs are then rescued once their
 * lease expires.
 *
 * With `all`, workers on every host are also asked through the store to drain; they see
 * the request at their next heartbeat.
 */

import { rmSync, statSync } from "node:fs";
import type { Store } from "../store/store.ts";
import { isProcessAlive, isQueuectlProcess, signalProcess } from "./process-info.ts";
import { KILL_GRACE_MS } from "./run.ts";
import { readWatchPids, watchPidfile } from "./supervisor.ts";

/** After the second SIGTERM: the job's own grace, plus time to record the release and exit. */
const ESCALATION_WAIT_MS = KILL_GRACE_MS + 10_000;
const CHECK_EVERY_MS = 100;

export interface StopParams {
  home: string;
  host: string;
  timeoutMs: number;
  all: boolean;
  /** A registry row whose heartbeat is older than this, on the store's clock, belongs to a worker that is gone. */
  lostAfterMs: number;
  /** Called once when the graceful wait runs out and running jobs are being stopped. */
  onEscalate?: (pids: number[]) => void;
}

export interface StopReport {
  /** Workers that exited after finishing their jobs. */
  stopped: number[];
  /** Workers whose running jobs were stopped and handed back to pending. */
  forced: number[];
  /** Workers that ignored both signals and were killed. */
  killed: number[];
  watchers: number[];
  /** Registry rows of processes that were already gone, now removed. */
  stale: number;
  /** Workers asked to stop through the store: other hosts' (`all`), or this host's that no signal can reach. */
  remoteAsked: number;
}

/** Every watcher pid was written before the pidfile's last change. */
function watchPidfileTime(home: string): number {
  try {
    return statSync(watchPidfile(home)).mtimeMs;
  } catch {
    return 0;
  }
}

async function waitUntilGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids.filter(isProcessAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await Bun.sleep(CHECK_EVERY_MS);
    alive = alive.filter(isProcessAlive);
  }
  return alive;
}

export async function stopWorkers(store: Store, params: StopParams): Promise<StopReport> {
  const report: StopReport = { stopped: [], forced: [], killed: [], watchers: [], stale: 0, remoteAsked: 0 };
  const [registered, now] = await Promise.all([store.workerList(), store.clockNow()]);
  const local = registered.filter((worker) => worker.host === params.host);
  const workers: number[] = [];
  const idOf = new Map<number, string>();
  let unreachable = 0;
  for (const worker of local) {
    idOf.set(worker.pid, worker.id);
    if (isQueuectlProcess(worker.pid, "worker", worker.started_at)) workers.push(worker.pid);
    // No process here, yet heartbeating: another container or pid namespace with this host name.
    else if (now - worker.heartbeat_at <= params.lostAfterMs) unreachable++;
    else {
      await store.workerRemove({ id: worker.id });
      report.stale++;
    }
  }
  if (params.all) {
    await store.workerRequestStop({});
    report.remoteAsked = registered.filter((worker) => worker.host !== params.host).length + unreachable;
  } else if (unreachable > 0) {
    // Still heartbeating but not a process here: another container or pid namespace with
    // this host name. Signals cannot reach it; the store can.
    await store.workerRequestStop({ host: params.host });
    report.remoteAsked = unreachable;
  }
  const watchers = readWatchPids(params.home).filter((pid) =>
    isQueuectlProcess(pid, "watch", watchPidfileTime(params.home)),
  );
  rmSync(watchPidfile(params.home), { force: true });
  for (const pid of [...workers, ...watchers]) signalProcess(pid, "SIGTERM");
  report.watchers = watchers;

  const pids = [...workers, ...watchers];
  const lingering = await waitUntilGone(pids, params.timeoutMs);
  const lingeringWorkers = lingering.filter((pid) => workers.includes(pid));
  if (lingering.length > 0) {
    params.onEscalate?.(lingeringWorkers);
    for (const pid of lingering) signalProcess(pid, "SIGTERM");
    const survivors = await waitUntilGone(lingering, ESCALATION_WAIT_MS);
    for (const pid of survivors) signalProcess(pid, "SIGKILL");
    report.killed = survivors.filter((pid) => workers.includes(pid));
    // A killed worker cannot deregister itself; its jobs are rescued when their leases expire.
    for (const pid of report.killed) await store.workerRemove({ id: idOf.get(pid) ?? "" });
    report.forced = lingeringWorkers.filter((pid) => !survivors.includes(pid));
  }
  report.stopped = workers.filter((pid) => !lingering.includes(pid));
  return report;
}
