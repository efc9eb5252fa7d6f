/**
 * `worker start` as the main process of a systemd service. The original tool's README runs
 * its workers from a unit with `Type=simple` and `ExecStart=… worker start --count 5`.
 * systemd takes a main process that exits for a service that stopped, and kills what it
 * left in the unit's cgroup: the workers the start had just launched. With
 * `Restart=always` it then started them again every `RestartSec`, so jobs were cut off and
 * retried in a loop. `queuectl service` writes units that run `worker run` instead, but a
 * unit written for the original tool should work as it did there.
 *
 * So when this process is the unit's main process (systemd sets SYSTEMD_EXEC_PID to it,
 * since version 248), the start stays until every process it launched has ended. It does
 * not pass systemd's stop on: systemd sends SIGTERM to every process of the unit at once
 * (KillMode=control-group, the default), and a worker takes a second SIGTERM as "stop the
 * running jobs now". Anywhere else `worker start` returns at once, as before.
 */

import { isProcessAlive } from "./process-info.ts";

/** How often a supervising start looks whether its processes are still there. */
const SUPERVISE_POLL_MS = 500;

/** Whether this process is the main process of a systemd service, the one systemd watches. */
export function isServiceMainProcess(
  env: Record<string, string | undefined> = process.env,
  pid: number = process.pid,
): boolean {
  return env.SYSTEMD_EXEC_PID === String(pid);
}

/**
 * Resolves once none of `pids` runs any more. SIGTERM and SIGINT to this process meanwhile
 * are ignored: they reached the workers too, which stop as they stop for `worker stop`,
 * and this process ends with them.
 */
export async function superviseUntilEnded(pids: readonly number[]): Promise<void> {
  const stay = () => {};
  process.on("SIGTERM", stay);
  process.on("SIGINT", stay);
  try {
    while (pids.some((pid) => isProcessAlive(pid))) await Bun.sleep(SUPERVISE_POLL_MS);
  } finally {
    process.off("SIGTERM", stay);
    process.off("SIGINT", stay);
  }
}
