/**
 * `worker stop`: SIGTERM to this host's workers and watchers, then wait. A worker stops
 * claiming and finishes its running jobs. When the timeout runs out, the workers still
 * there get RELEASE_SIGNAL (signals.ts): they stop those jobs and hand them back to
 * pending (not counted as an attempt). Only a worker that does not take even that, or
 * does not exit after it, gets SIGKILL; its jobs are then rescued once their lease expires.
 *
 * With `all`, workers on every host are also asked through the store to drain; they see
 * the request at their next heartbeat.
 */

import { rmSync, statSync } from "node:fs";
import { isWorkerLost } from "../core/config.ts";
import type { Job } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import {
  isProcessAlive,
  isQueuectlProcess,
  pidSpaceTag,
  ranInPidSpace,
  signalProcess,
} from "./process-info.ts";
import { releaseOrKill, STOP_SIGNAL } from "./signals.ts";
import { takeStartingWorkers } from "./starting-workers.ts";
import { readWatchPids, watchPidfile, workerLogDir } from "./supervisor.ts";

const CHECK_EVERY_MS = 100;

export interface StopParams {
  home: string;
  host: string;
  timeoutMs: number;
  all: boolean;
  /** A registry row whose heartbeat is older than this, on the store's clock, belongs to a worker that is gone. */
  lostAfterMs: number;
  /** Called once when the graceful wait runs out, with the workers whose running jobs are being stopped. */
  onEscalate?: (pids: number[]) => void;
  /** Called once before the wait, with the workers an earlier stop already asked: they get no second SIGTERM. */
  onAlreadyStopping?: (pids: number[]) => void;
}

export interface StopReport {
  /** Workers that exited after finishing their jobs, or that had none. */
  stopped: number[];
  /** Workers whose running jobs were stopped and handed back to pending. */
  forced: number[];
  /** Workers that did not take the release, or did not exit after it, and were killed. */
  killed: number[];
  watchers: number[];
  /** Registry rows of processes that were already gone, now removed. */
  stale: number;
  /** Workers asked to stop through the store: other hosts' (`all`), or this host's that no signal can reach. */
  remoteAsked: number;
  /**
   * Other hosts' workers (`all`) whose heartbeat is too old, as `status` shows them lost: no
   * request reaches a dead worker, so they are not counted as asked.
   */
  lost: number;
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

/** One attempt, as the store said it was held when the stop escalated. */
type HeldAttempt = Pick<Job, "id" | "token">;

/** The processing jobs of each of `workerIds`, by worker id. */
async function heldAttempts(store: Store, workerIds: Set<string>): Promise<Map<string, HeldAttempt[]>> {
  const { jobs } = await store.jobPage({ states: ["processing"], limit: null, order: "oldest" });
  const held = new Map<string, HeldAttempt[]>();
  for (const job of jobs) {
    if (job.worker_id === null || !workerIds.has(job.worker_id)) continue;
    held.set(job.worker_id, [...(held.get(job.worker_id) ?? []), { id: job.id, token: job.token }]);
  }
  return held;
}

/**
 * Whether escalating stopped some of `held`: an attempt that completed by itself under the
 * same token meanwhile (it ended between the store read and the signal) was not stopped.
 */
export function stoppedAny(held: HeldAttempt[], after: Map<string, Job | null>): boolean {
  return held.some(({ id, token }) => {
    const job = after.get(id);
    return !(job?.state === "completed" && job.token === token);
  });
}

/**
 * The graceful wait ran out: the processes still there are released or killed (signals.ts).
 * Returns the workers whose running jobs were stopped, and those that had to be killed.
 */
async function escalate(
  store: Store,
  lingering: number[],
  workers: number[],
  idOf: Map<number, string>,
  onEscalate: StopParams["onEscalate"],
): Promise<{ forced: number[]; killed: number[] }> {
  const lingeringWorkers = lingering.filter((pid) => workers.includes(pid));
  // Read before the release: afterwards the jobs are back in pending, under no worker.
  const held = await heldAttempts(store, new Set(lingeringWorkers.map((pid) => idOf.get(pid) ?? "")));
  const heldBy = (pid: number) => held.get(idOf.get(pid) ?? "") ?? [];
  const busy = lingeringWorkers.filter((pid) => heldBy(pid).length > 0);
  onEscalate?.(busy);
  const ends = await Promise.all(lingering.map((pid) => releaseOrKill(pid, workers.includes(pid))));
  const killed = lingeringWorkers.filter((pid) => ends[lingering.indexOf(pid)] === "killed");
  // A killed worker cannot deregister itself; its jobs are rescued when their leases expire.
  for (const pid of killed) await store.workerRemove({ id: idOf.get(pid) ?? "" });
  const forced: number[] = [];
  for (const pid of busy.filter((pid) => !killed.includes(pid))) {
    const after = new Map<string, Job | null>();
    for (const { id } of heldBy(pid)) after.set(id, await store.jobGet({ id }));
    if (stoppedAny(heldBy(pid), after)) forced.push(pid);
  }
  return { forced, killed };
}

export async function stopWorkers(store: Store, params: StopParams): Promise<StopReport> {
  const report: StopReport = {
    stopped: [],
    forced: [],
    killed: [],
    watchers: [],
    stale: 0,
    remoteAsked: 0,
    lost: 0,
  };
  const [registered, now] = await Promise.all([store.workerList(), store.clockNow()]);
  const local = registered.filter((worker) => worker.host === params.host);
  const workers: number[] = [];
  const idOf = new Map<number, string>();
  let unreachable = 0;
  const here = pidSpaceTag();
  // Only rows whose process is the one they name: a stale marked row may share its pid with another.
  const alreadyAsked = new Set<number>();
  let unmarked = false;
  for (const worker of local) {
    idOf.set(worker.pid, worker.id);
    if (isQueuectlProcess(worker.pid, "worker", worker.started_at)) {
      workers.push(worker.pid);
      if (worker.stop_requested) alreadyAsked.add(worker.pid);
      else unmarked = true;
    }
    // No process here, yet heartbeating: another container or pid namespace with this host
    // name, unless its id says it ran where this process runs (then it just died: SIGKILL).
    else if (!isWorkerLost(worker.heartbeat_at, now, params.lostAfterMs) && !ranInPidSpace(worker.id, here))
      unreachable++;
    else {
      await store.workerRemove({ id: worker.id });
      report.stale++;
    }
  }
  if (params.all) {
    // The lost ones are asked too: one that was only frozen sees the request when it wakes.
    await store.workerRequestStop({});
    const remote = registered.filter((worker) => worker.host !== params.host);
    report.lost = remote.filter((worker) =>
      isWorkerLost(worker.heartbeat_at, now, params.lostAfterMs),
    ).length;
    report.remoteAsked = remote.length - report.lost + unreachable;
  } else if (unreachable > 0) {
    // Still heartbeating but not a process here: another container or pid namespace with
    // this host name. Signals cannot reach it; the store can.
    await store.workerRequestStop({ host: params.host });
    report.remoteAsked = unreachable;
  }
  // Launched by a `worker start` still under way: not in the store yet, but as much this host's.
  for (const pid of takeStartingWorkers(workerLogDir(params.home)))
    if (!workers.includes(pid)) workers.push(pid);
  const watchers = readWatchPids(params.home).filter((pid) =>
    isQueuectlProcess(pid, "watch", watchPidfileTime(params.home)),
  );
  rmSync(watchPidfile(params.home), { force: true });
  // A worker an earlier `worker stop` marked (or `--all` asked) is already finishing its jobs:
  // a second SIGTERM would tell it to stop them now (signals.ts), so a stop typed twice, or
  // from two shells, would cut the first one's grace short.
  const asked = workers.filter((pid) => alreadyAsked.has(pid));
  if (asked.length > 0) params.onAlreadyStopping?.(asked);
  // Marked before their signal, for the next stop to see; only when a registered one is not
  // yet (the branches above marked them all otherwise), so a start still under way, which
  // holds the store, does not hold this stop up.
  if (unmarked && !params.all && unreachable === 0) await store.workerRequestStop({ host: params.host });
  for (const pid of [...workers, ...watchers]) if (!alreadyAsked.has(pid)) signalProcess(pid, STOP_SIGNAL);
  report.watchers = watchers;

  const lingering = await waitUntilGone([...workers, ...watchers], params.timeoutMs);
  if (lingering.length > 0) {
    const { forced, killed } = await escalate(store, lingering, workers, idOf, params.onEscalate);
    report.forced = forced;
    report.killed = killed;
  }
  report.stopped = workers.filter((pid) => !report.killed.includes(pid) && !report.forced.includes(pid));
  return report;
}
