/**
 * The signals queuectl commands send a worker on their own host, and how a stop escalates.
 *
 * - STOP_SIGNAL (SIGTERM; Ctrl-C's SIGINT in the foreground): stop claiming, let running
 *   jobs finish. A second one stops them, for a user at a terminal.
 * - RELEASE_SIGNAL: stop the running jobs now and hand them back to pending, attempt not
 *   counted. `worker stop` escalates with it rather than with a second SIGTERM: two SIGTERMs
 *   that arrive while the worker is frozen or not yet scheduled are merged by the kernel
 *   into one, which the worker would read as the gentle first step.
 * - WAKE_SIGNAL: a `kill` was requested; renew now and see it.
 */

import { isProcessAlive, signalCaught, signalPending, signalProcess } from "./process-info.ts";
import { KILL_GRACE_MS } from "./run.ts";

export const STOP_SIGNAL: NodeJS.Signals = "SIGTERM";
export const RELEASE_SIGNAL: NodeJS.Signals = "SIGUSR1";
export const WAKE_SIGNAL: NodeJS.Signals = "SIGUSR2";

/**
 * How long a process that took the release may take to exit: its jobs' kill grace, plus
 * time to record the hand-backs and deregister.
 */
export function releaseWaitMs(killGraceMs = KILL_GRACE_MS): number {
  return killGraceMs + 10_000;
}

/**
 * How long a process may leave a signal pending (frozen, or starved of CPU on a loaded host)
 * before it is killed. Its release wait starts only once it took the signal, so a worker
 * frozen for a few seconds still hands its jobs back rather than being killed.
 */
const TAKE_SIGNAL_WAIT_MS = 30_000;
const CHECK_EVERY_MS = 50;

async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await Bun.sleep(CHECK_EVERY_MS);
  }
  return true;
}

/** Gone, or no longer holding `signal` pending (where /proc cannot tell, taken). */
function tookOrGone(pid: number, signal: NodeJS.Signals): boolean {
  return !isProcessAlive(pid) || signalPending(pid, signal) !== true;
}

/**
 * The second step of stopping `pid`, which already got STOP_SIGNAL: a worker that handles
 * RELEASE_SIGNAL gets it; any other process (a watcher, a worker of an older queuectl)
 * gets STOP_SIGNAL again, once it took the first so the two are not merged. The process
 * then has releaseWaitMs from the moment it took the signal; one that does not take it
 * within TAKE_SIGNAL_WAIT_MS, or does not exit, is killed with SIGKILL.
 * `releases`: the process is a worker (a watcher has no jobs to hand back).
 */
export async function releaseOrKill(pid: number, releases: boolean): Promise<"exited" | "killed"> {
  // A worker started by an older queuectl would die of SIGUSR1's default action: it gets SIGTERM.
  const signal = releases && signalCaught(pid, RELEASE_SIGNAL) !== false ? RELEASE_SIGNAL : STOP_SIGNAL;
  const ready =
    signal === RELEASE_SIGNAL || (await waitUntil(() => tookOrGone(pid, STOP_SIGNAL), TAKE_SIGNAL_WAIT_MS));
  if (ready) {
    signalProcess(pid, signal);
    const taken = await waitUntil(() => tookOrGone(pid, signal), TAKE_SIGNAL_WAIT_MS);
    if (taken && (await waitUntil(() => !isProcessAlive(pid), releaseWaitMs()))) return "exited";
  }
  if (!isProcessAlive(pid)) return "exited";
  signalProcess(pid, "SIGKILL");
  return "killed";
}
