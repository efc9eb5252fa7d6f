/**
 * What this host knows about a process id: whether it still runs, and whether it is one
 * of ours. Signals are only ever sent to pids that pass `isQueuectlProcess`, because a
 * registry row or pidfile may outlive its process and the pid may since belong to
 * someone else's program.
 */

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { constants as osConstants } from "node:os";

/** Linux keeps /proc; elsewhere the checks below fall back to what kill(pid, 0) says. */
function procText(path: string): string | null {
  try {
    return readFileSync(`/proc/${path}`, "utf8");
  } catch {
    return null;
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name, which may itself hold spaces and
 * parentheses: index 0 is the state (field 3), 1 the ppid, 2 the process group, 17 the number
 * of threads, 19 the start time. Null when there is no such process or no /proc.
 */
function statFields(pid: number): string[] | null {
  const stat = procText(`${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * True while the process exists and is not a zombie. Zombies count as gone: a detached
 * worker is re-parented to PID 1, and in containers PID 1 often never reaps them.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const state = statFields(pid)?.[0];
  if (state === undefined) return true;
  return state !== "Z" && state !== "X";
}

/**
 * Where this process's pids mean something: the boot and the pid namespace, as a short tag.
 * Two workers with the same tag see the same processes, so one of them finding no process
 * at the other's pid knows it is gone; with another tag (a container that shares the host
 * name) it only knows that its signals cannot reach it. Null without /proc.
 */
export function pidSpaceTag(): string | null {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const namespace = readlinkSync("/proc/self/ns/pid");
    return Bun.hash(`${boot}\0${namespace}`).toString(16).padStart(16, "0").slice(0, 8);
  } catch {
    return null;
  }
}

/** Ends a worker id made where pidSpaceTag answered: `@` and the tag. */
const PID_SPACE_SUFFIX = /@([0-9a-f]{8})$/;

/** The pid space tag a worker id carries, or null for an id without one (an older release's). */
export function workerPidSpace(workerId: string): string | null {
  return PID_SPACE_SUFFIX.exec(workerId)?.[1] ?? null;
}

/**
 * Whether worker `workerId` ran in pid space `here` (this process's pidSpaceTag()): only then
 * does its pid mean a process here, and no process at it mean the worker died.
 */
export function ranInPidSpace(workerId: string, here: string | null): boolean {
  return here !== null && workerPidSpace(workerId) === here;
}

/** The pid in a worker id made where pidSpaceTag answered (`host-pid-random@tag`), or null. */
export function workerIdPid(workerId: string): number | null {
  const pid = /-(\d+)-[0-9a-f]+@[0-9a-f]{8}$/.exec(workerId)?.[1];
  return pid === undefined ? null : Number(pid);
}

/** Linux reports start times in clock ticks since boot; 100 per second on every mainstream build. */
const CLOCK_TICKS_PER_SECOND = 100;
/**
 * Boot time is whole seconds, ticks are 10 ms, and the wall clock may have been corrected
 * since: a generous margin. A pid reused this soon after its worker registered is not a
 * realistic case.
 */
const START_TIME_SLACK_MS = 30_000;

/**
 * When the process started, in clock ticks since boot, or null where /proc cannot say: exact
 * for comparing two processes of one boot, where processStartedAt's boot time, which the
 * kernel derives from the wall clock at each read, may differ by a second between reads.
 */
export function processStartTicks(pid: number): number | null {
  const fields = statFields(pid);
  if (fields === null) return null;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** When the process started, in ms since the epoch, or null where /proc cannot say. */
export function processStartedAt(pid: number): number | null {
  const ticks = processStartTicks(pid);
  const boot = procText("stat")?.match(/^btime (\d+)$/m);
  if (ticks === null || !boot) return null;
  return Number(boot[1]) * 1000 + (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Whether `pid` is still the queuectl `role` process ("worker", "watch") that recorded
 * itself at `recordedAt`. A process that started after that instant holds a reused pid.
 * The role must be among its arguments, whatever the executable is called. Without
 * /proc there is no way to tell, so a live pid is trusted.
 */
export function isQueuectlProcess(pid: number, role: string, recordedAt: number): boolean {
  if (!isProcessAlive(pid)) return false;
  const cmdline = procText(`${pid}/cmdline`);
  if (cmdline !== null && !cmdline.split("\0").includes(role)) return false;
  const startedAt = processStartedAt(pid);
  return startedAt === null || startedAt <= recordedAt + START_TIME_SLACK_MS;
}

/** Sends `signal` and reports whether the process was there to receive it. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The bit of `signal` in /proc's hexadecimal signal masks, or null for a name this host lacks. */
function signalBit(signal: NodeJS.Signals): bigint | null {
  const number = osConstants.signals[signal];
  return number === undefined ? null : 1n << BigInt(number - 1);
}

function statusMask(status: string, field: string): bigint | null {
  const match = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status);
  return match ? BigInt(`0x${match[1]}`) : null;
}

/**
 * Whether `signal` was sent to `pid` and not yet taken: the process is frozen (SIGSTOP, a
 * paused container) or has not been scheduled since. Two pending signals of one kind are
 * one, so a second is only worth sending once this is false. Null where /proc cannot say.
 */
export function signalPending(pid: number, signal: NodeJS.Signals): boolean | null {
  const status = procText(`${pid}/status`);
  const bit = signalBit(signal);
  if (status === null || bit === null) return null;
  const pending = (statusMask(status, "ShdPnd") ?? 0n) | (statusMask(status, "SigPnd") ?? 0n);
  return (pending & bit) !== 0n;
}

/**
 * Whether `pid` has a handler for `signal` (otherwise its default action applies, which for
 * most signals ends the process). Null where /proc cannot say.
 */
export function signalCaught(pid: number, signal: NodeJS.Signals): boolean | null {
  const status = procText(`${pid}/status`);
  const bit = signalBit(signal);
  const caught = status === null ? null : statusMask(status, "SigCgt");
  if (caught === null || bit === null) return null;
  return (caught & bit) !== 0n;
}

/** The process group `pid` is in, or null when it is gone or /proc cannot say. */
export function processGroupOf(pid: number): number | null {
  const fields = statFields(pid);
  if (fields === null) return null;
  const group = Number(fields[2]);
  return Number.isInteger(group) && group > 0 ? group : null;
}

/**
 * Whether process group `pgid` has a member that has not exited. kill(-pgid, 0) also finds
 * zombies: a member whose parent died belongs to the host's init until init reaps it, which
 * a container's init may do late, or never. True when /proc cannot be read.
 */
export function groupHasLiveMember(pgid: number): boolean {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const fields = statFields(pid);
    if (fields === null || Number(fields[2]) !== pgid) continue;
    // A process whose main thread exited while others run shows as a zombie, and is not one.
    if ((fields[0] !== "Z" && fields[0] !== "X") || Number(fields[17]) > 1) return true;
  }
  return false;
}

/**
 * Processes whose environment, as they were started with it, holds exactly `entry`
 * (`NAME=value`), this process excepted. One this user may not read (another user's) is
 * skipped; so is a zombie, whose environment is gone.
 */
export function pidsWithEnvEntry(entry: string): number[] {
  return pidsWithEnvEntries([entry]);
}

/** The processes whose environment holds every one of `entries` (`NAME=value`), as pidsWithEnvEntry. */
export function pidsWithEnvEntries(entries: readonly string[]): number[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const needles = entries.map((entry) => Buffer.from(`${entry}\0`));
  const found: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (needles.every((needle) => holdsEntry(environ, needle))) found.push(pid);
  }
  return found;
}

/** A whole entry: at the start, or right after the NUL that ends the one before. */
function holdsEntry(environ: Buffer, needle: Buffer): boolean {
  for (let at = environ.indexOf(needle); at >= 0; at = environ.indexOf(needle, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true;
  }
  return false;
}
