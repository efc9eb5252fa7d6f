/**
 * `kill`: stops jobs wherever they run, for the CLI and the dashboard alike. A job that
 * has not started is canceled at once. A running one gets a kill request recorded on the
 * job, which its worker reads at its next renewal (within one heartbeat interval, on any
 * host) and acts on: SIGTERM to the job's process group, SIGKILL after the grace. On this
 * host the worker is also signalled (SIGUSR2), so it renews, and kills, at once.
 *
 * The job then ends `canceled` with the reason; with `retry` the attempt counts as failed
 * instead, and the retry rules apply.
 */

import { hostName } from "../core/home.ts";
import type { Job } from "../core/job.ts";
import type { Store, WorkerRecord } from "../store/store.ts";
import { isQueuectlProcess, pidSpaceTag, ranInPidSpace, signalProcess } from "./process-info.ts";
import { WAKE_SIGNAL } from "./signals.ts";

export const KILLED_BY_USER = "killed by user";
/** The error of a run `kill --retry` stopped: the job is retried as after any failure. */
export const KILLED_BY_USER_RETRY = `${KILLED_BY_USER} (kill --retry)`;

export type KillOutcome =
  /** It had not started: canceled now. */
  | { id: string; kind: "canceled" }
  /**
   * It runs: its worker was asked to stop it. `signalled`: that worker is on this host and was
   * woken. `orphaned`: the worker is no longer registered, so the job ends when it is rescued.
   */
  | {
      id: string;
      kind: "requested";
      token: number;
      workerId: string | null;
      signalled: boolean;
      orphaned: boolean;
    }
  /** Nothing to kill: the job had ended (its state), or does not exist (null). */
  | { id: string; kind: "not-running"; state: Job["state"] | null };

export interface KillOptions {
  /** Count the stopped attempt as failed (retry rules apply) instead of canceling the job. Default false. */
  retry?: boolean;
  /** Default Date.now(). */
  now?: number;
  /** This host's name, to find local workers to signal. Default hostName(). */
  host?: string;
}

export async function killJobs(
  store: Store,
  ids: string[],
  options: KillOptions = {},
): Promise<KillOutcome[]> {
  const now = options.now ?? Date.now();
  const host = options.host ?? hostName();
  const outcomes: KillOutcome[] = [];
  for (const id of ids) outcomes.push(await killOne(store, id, { retry: options.retry ?? false, now, host }));
  return outcomes;
}

/** Rounds of cancel-or-request while the job keeps moving between them. */
const KILL_ROUNDS = 3;

async function killOne(
  store: Store,
  id: string,
  options: { retry: boolean; now: number; host: string },
): Promise<KillOutcome> {
  // Each step is guarded by the job's state, so a job claimed or finished meanwhile falls through.
  // With --retry a waiting job is left to wait: one that stopped running since the caller
  // checked it must not be canceled by a request to count its attempt.
  for (let round = 1; ; round++) {
    if (!options.retry) {
      const [canceled] = await store.jobTransition({
        id,
        from: ["pending", "failed"],
        to: "canceled",
        resetAttempts: false,
        now: options.now,
        reason: KILLED_BY_USER,
      });
      if (canceled) return { id, kind: "canceled" };
    }
    const claim = await store.jobKillRequest({ id, mode: options.retry ? "retry" : "cancel" });
    if (claim) {
      const worker = (await store.workerList()).find((row) => row.id === claim.workerId);
      const gone = worker === undefined || diedHere(worker, options.host);
      const signalled = !gone && wakeLocalWorker(worker, options.host);
      return { id, kind: "requested", ...claim, signalled, orphaned: gone };
    }
    const state = (await store.jobGet({ id }))?.state ?? null;
    // Its run ended (failed, to wait for a retry) between the two steps: a plain kill cancels it now.
    const moved = state === "pending" || state === "failed" || state === "processing";
    if (options.retry || !moved || round === KILL_ROUNDS) return { id, kind: "not-running", state };
  }
}

/**
 * A registered worker of this host and pid space whose process is gone (SIGKILL leaves its
 * row behind): its job ends when it is rescued, so `kill` need not wait on it.
 */
function diedHere(worker: WorkerRecord, host: string): boolean {
  return (
    worker.host === host &&
    ranInPidSpace(worker.id, pidSpaceTag()) &&
    !isQueuectlProcess(worker.pid, "worker", worker.started_at)
  );
}

/** WAKE_SIGNAL to the job's worker when it runs on this host: it renews now and sees the kill. */
function wakeLocalWorker(worker: WorkerRecord, host: string): boolean {
  if (worker.host !== host || !isQueuectlProcess(worker.pid, "worker", worker.started_at)) return false;
  return signalProcess(worker.pid, WAKE_SIGNAL);
}

/**
 * Waits until every requested kill has ended its attempt, or `timeoutMs` passed; returns the
 * jobs as they are then, by id. An attempt has ended once its job left `processing` under
 * that token.
 */
export async function waitForKilled(
  store: Store,
  requested: { id: string; token: number }[],
  timeoutMs: number,
): Promise<Map<string, Job | null>> {
  const deadline = Date.now() + timeoutMs;
  const latest = new Map<string, Job | null>();
  let waiting = requested;
  for (;;) {
    for (const { id } of waiting) latest.set(id, await store.jobGet({ id }));
    waiting = waiting.filter(({ id, token }) => {
      const job = latest.get(id);
      return job?.state === "processing" && job.token === token;
    });
    if (waiting.length === 0 || Date.now() >= deadline) return latest;
    await Bun.sleep(100);
  }
}
