/**
 * Signals to a job's processes: to its process group, which its main process leads, and to
 * the processes that left the group (setsid) but carry the attempt's QUEUECTL_REAPER entry.
 * run.ts stops an attempt with these; only a stopped attempt pays for the scan of /proc.
 */

import { constants } from "node:os";
import { ESRCH, libc } from "./libc.ts";
import { groupHasLiveMember, pidsWithEnvEntry, processGroupOf } from "./process-info.ts";

/**
 * False when the group is gone (ESRCH): no process is left in it. Any other failure (EPERM:
 * members that may not be signalled now, but may be once they drop privileges) is not that.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  const c = libc();
  if (c) return c.kill(-pid, signal === 0 ? 0 : constants.signals[signal]) !== ESRCH;
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Signals every process started with the attempt's environment `entry` once: a process that
 * leads its own group through that group (a child that also dropped the entry still dies
 * with its leader), any other by itself. A process in `signaledGroup`, which was just given
 * the same signal, is left out: a second SIGTERM is "quit now" to many programs, and would
 * cut short the shutdown the first one asked for. Returns how many it found.
 */
export function signalMarked(entry: string, signal: NodeJS.Signals, signaledGroup?: number): number {
  const pids = pidsWithEnvEntry(entry);
  const groups = new Set<number>(signaledGroup === undefined ? [] : [signaledGroup]);
  const send = (target: number) => {
    try {
      process.kill(target, signal);
    } catch {
      // Exited meanwhile.
    }
  };
  const marked = pids.map((pid) => ({ pid, group: processGroupOf(pid) }));
  for (const { pid, group } of marked) {
    if (group !== pid || groups.has(pid)) continue;
    groups.add(pid);
    send(-pid);
  }
  for (const { pid, group } of marked) if (group === null || !groups.has(group)) send(pid);
  return pids.length;
}

/** How often a stopped job's group is looked at while its processes shut down. */
const GROUP_POLL_MS = 50;

/** How often that wait reads /proc for members that still run: a scan costs milliseconds. */
const LIVE_SCAN_MS = 250;

/** Resolves once group `pid` has no process left that runs, or at `deadline` (performance.now()). */
export async function groupEmptied(pid: number, deadline: number): Promise<void> {
  let scannedAt = performance.now();
  while (performance.now() < deadline && signalGroup(pid, 0)) {
    // Zombies alone (a leftover whose parent died, which the host's init may reap late, or
    // never) end the wait too. Their group is still SIGKILLed after it, which harms no zombie
    // and ends any member the scan of /proc missed (one that forked meanwhile).
    if (performance.now() - scannedAt >= LIVE_SCAN_MS) {
      scannedAt = performance.now();
      if (!groupHasLiveMember(pid)) return;
    }
    await Bun.sleep(Math.max(1, Math.min(GROUP_POLL_MS, deadline - performance.now())));
  }
}

/** Rounds of SIGKILL for a stopped attempt's processes, while new ones keep turning up (forks). */
const MARKED_KILL_ROUNDS = 20;
const MARKED_KILL_PAUSE_MS = 10;

/** SIGKILL to a stopped attempt's processes until none is found: one may fork while it is killed. */
export async function killMarked(entry: string): Promise<void> {
  for (let round = 0; round < MARKED_KILL_ROUNDS; round++) {
    if (signalMarked(entry, "SIGKILL") === 0) return;
    await Bun.sleep(MARKED_KILL_PAUSE_MS);
  }
}
