/**
 * Enforces a job's resource limits (core/resource-limits.ts decides which apply) with the
 * best mechanism this machine offers, found once per worker process:
 *
 * 1. **cgroup v2**, when the worker's own cgroup can hold a child with the memory and pids
 *    controllers: memory.max and pids.max bound the whole job, memory.events tells an
 *    out-of-memory kill apart, and cgroup.kill ends every process of the attempt, even one
 *    that left the job's process group with `setsid`.
 * 2. **cgroup v1**, when the memory and pids hierarchies are mounted and writable (hybrid
 *    setups, older distributions): the same limits through memory.limit_in_bytes and
 *    pids.max, memory.oom_control's oom_kill count, and a kill of every process listed.
 * 3. **rlimit** otherwise: RLIMIT_DATA per process for memory, RLIMIT_NPROC for processes
 *    (per user, and never enforced for root). A process over RLIMIT_DATA sees its
 *    allocations fail rather than being killed, so its own error is the attempt's.
 *
 * CPU time is RLIMIT_CPU under every mechanism: cgroups bound CPU rate, not CPU time, so it
 * counts per process. The kernel sends SIGXCPU at the limit and SIGKILL a second later.
 *
 * Limits cost a job that has none nothing: startRun calls in here only when some apply. A job
 * with limits starts through /bin/sh (to join its cgroup before exec) and/or prlimit.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { formatDurationMs } from "../core/duration.ts";
import type { Job } from "../core/job.ts";
import { describeLimits, formatSize, type ResourceLimits } from "../core/resource-limits.ts";
import type { Store } from "../store/store.ts";

export type LimitMechanism = "cgroup v2" | "cgroup v1" | "rlimit";

/** Where this worker creates a cgroup per attempt; empty for rlimit. */
export interface Mechanism {
  kind: LimitMechanism;
  /** cgroup v2: one folder. cgroup v1: the memory folder, then the pids folder. */
  parents: string[];
}

export interface Enforcement {
  /** What to spawn instead of the job's own argv. */
  argv: string[];
  /** For the attempt's record, e.g. "memory 256 MB, processes 100 (cgroup v1)". */
  note: string;
  /**
   * After the main process exited: kills whatever is left of the attempt, removes its
   * cgroup, and returns the reason a limit ended a failed attempt, or null.
   */
  finish(failed: boolean, signal: string | null, exitCode: number | null): Promise<string | null>;
}

const PRLIMIT = "/usr/bin/prlimit";
/** What `sh` exits with when the command it waited for died of SIGXCPU. */
const SHELL_EXIT_ON_SIGXCPU = 128 + osConstants.signals.SIGXCPU;
/** The job's shell joins each cgroup listed before `--`, then execs the rest. */
const JOIN_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
/** How long finish waits for a killed cgroup to empty before it leaves the folder behind. */
const EMPTY_DEADLINE_MS = 2_000;

/** How this process can limit its children: a fact of the process, found once. */
let detected: Mechanism | null = null;
/** Names each attempt's cgroup uniquely within this process (its pid names the rest). */
let attemptCounter = 0;

/** The worker's own cgroup paths, from /proc/self/cgroup: "0::/a" (v2) or "4:memory:/b" (v1). */
function ownCgroups(): Map<string, string> {
  const paths = new Map<string, string>();
  try {
    for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (controllers === undefined || path === undefined) continue;
      for (const name of controllers === "" ? ["unified"] : controllers.split(",")) paths.set(name, path);
    }
  } catch {
    // Not Linux, or no /proc: rlimit it is.
  }
  return paths;
}

/** Whether a child cgroup can be made under `parent`, and holds `files` once made. */
function canNest(parent: string, files: string[], check?: (probe: string) => boolean): boolean {
  const probe = join(parent, `queuectl-probe-${process.pid}`);
  try {
    mkdirSync(probe);
  } catch {
    return false;
  }
  try {
    return files.every((file) => existsSync(join(probe, file))) && (check?.(probe) ?? true);
  } finally {
    try {
      rmdirSync(probe);
    } catch {
      // Left for the operator: an empty cgroup costs nothing.
    }
  }
}

function detectCgroupV2(own: Map<string, string>): Mechanism | null {
  const path = own.get("unified");
  if (path === undefined) return null;
  // Pure v2 mounts at /sys/fs/cgroup; hybrid setups mount it at /sys/fs/cgroup/unified.
  const root = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  const parent = join(root, path);
  // A child only gets the controllers its parent delegates; in a hybrid setup the v2
  // hierarchy often has none of them, which this reads as "not offered".
  const delegated = (probe: string) => {
    const controllers = readFileSync(join(probe, "cgroup.controllers"), "utf8").split(/\s+/);
    return ["memory", "pids"].every((name) => controllers.includes(name));
  };
  if (!canNest(parent, ["cgroup.procs", "cgroup.kill"], delegated)) return null;
  return { kind: "cgroup v2", parents: [parent] };
}

function detectCgroupV1(own: Map<string, string>): Mechanism | null {
  const memory = own.get("memory");
  const pids = own.get("pids");
  if (memory === undefined || pids === undefined) return null;
  const parents = [join("/sys/fs/cgroup/memory", memory), join("/sys/fs/cgroup/pids", pids)];
  const [memoryParent = "", pidsParent = ""] = parents;
  if (!canNest(memoryParent, ["memory.limit_in_bytes", "memory.oom_control", "cgroup.procs"])) return null;
  if (!canNest(pidsParent, ["pids.max", "cgroup.procs"])) return null;
  return { kind: "cgroup v1", parents };
}

/** The mechanism of this process, detected on first use. QUEUECTL_LIMITS=rlimit forces the fallback. */
export function limitMechanism(): Mechanism {
  if (detected) return detected;
  const own = ownCgroups();
  const forced = process.env.QUEUECTL_LIMITS;
  const fallback: Mechanism = { kind: "rlimit", parents: [] };
  detected = forced === "rlimit" ? fallback : (detectCgroupV2(own) ?? detectCgroupV1(own) ?? fallback);
  for (const parent of detected.parents) removeOrphanCgroups(parent);
  return detected;
}

/** An attempt's cgroup (`queuectl-<pid>-<n>`) or a probe (`queuectl-probe-<pid>`), by the pid that made it. */
const OWN_CGROUP = /^queuectl-(?:probe-)?(\d+)(?:-\d+)?$/;

/**
 * Removes the cgroups a worker ended by SIGKILL left behind: its reaper killed their
 * processes, but nothing removed the folders. Only those of a pid that is gone, and only
 * empty ones (the kernel refuses to remove a cgroup that still holds a process).
 */
function removeOrphanCgroups(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(OWN_CGROUP.exec(entry)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    try {
      rmdirSync(join(parent, entry));
    } catch {
      // Still holds a process, or not ours to remove: left as it is.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, another user's.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function readNumber(path: string, key: string): number {
  try {
    const match = new RegExp(`^${key} (\\d+)$`, "m").exec(readFileSync(path, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function prlimitArgs(limits: ResourceLimits, mechanism: LimitMechanism): string[] {
  const args: string[] = [];
  if (limits.cpu_time !== undefined) args.push(`--cpu=${limits.cpu_time}:${limits.cpu_time + 1}`);
  if (mechanism === "rlimit") {
    if (limits.memory !== undefined) args.push(`--data=${limits.memory}`);
    if (limits.processes !== undefined) args.push(`--nproc=${limits.processes}`);
  }
  return args.length > 0 ? [PRLIMIT, ...args, "--"] : [];
}

/**
 * The limit's SIGXCPU ended the job: its main process took it, or, for a string command,
 * the program its shell ran did, which the shell reports as exit code 128 + SIGXCPU.
 */
function cpuReason(limits: ResourceLimits, signal: string | null, exitCode: number | null): string | null {
  if (limits.cpu_time === undefined) return null;
  if (signal !== "SIGXCPU" && exitCode !== SHELL_EXIT_ON_SIGXCPU) return null;
  return `killed: cpu time limit ${formatDurationMs(limits.cpu_time * 1000)}`;
}

/** Kills every process listed in the cgroups until they are empty, then removes them. */
async function emptyAndRemove(folders: string[], kill: () => void): Promise<void> {
  const deadline = Date.now() + EMPTY_DEADLINE_MS;
  for (;;) {
    kill();
    const left = folders.some((folder) => {
      try {
        return readFileSync(join(folder, "cgroup.procs"), "utf8").trim() !== "";
      } catch {
        return false;
      }
    });
    if (!left || Date.now() > deadline) break;
    await Bun.sleep(10);
  }
  for (const folder of folders) {
    try {
      rmdirSync(folder);
    } catch {
      // Still busy past the deadline, or already gone.
    }
  }
}

function killListed(folder: string): void {
  let pids: string[];
  try {
    pids = readFileSync(join(folder, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
}

/** Sets the attempt up under `limits`; the job's argv is wrapped, nothing is spawned here. */
export function enforceLimits(
  limits: ResourceLimits,
  argv: string[],
  mechanism: Mechanism = limitMechanism(),
): Enforcement {
  const note = `${describeLimits(limits)} (${mechanism.kind})`;
  const wrapped = [...prlimitArgs(limits, mechanism.kind), ...argv];
  if (mechanism.kind === "rlimit") {
    return {
      argv: wrapped,
      note,
      finish: async (failed, signal, exitCode) => (failed ? cpuReason(limits, signal, exitCode) : null),
    };
  }
  const name = `queuectl-${process.pid}-${++attemptCounter}`;
  const folders = mechanism.parents.map((parent) => join(parent, name));
  const [memoryFolder = "", pidsFolder = memoryFolder] = folders;
  const v2 = mechanism.kind === "cgroup v2";
  for (const folder of folders) mkdirSync(folder, { recursive: true });
  if (limits.memory !== undefined) {
    writeFileSync(join(memoryFolder, v2 ? "memory.max" : "memory.limit_in_bytes"), String(limits.memory));
    // No swap either, so the limit means what it says; absent when swap accounting is off.
    const swap = join(memoryFolder, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    if (existsSync(swap)) writeFileSync(swap, v2 ? "0" : String(limits.memory));
  }
  if (limits.processes !== undefined) writeFileSync(join(pidsFolder, "pids.max"), String(limits.processes));
  const procs = folders.map((folder) => join(folder, "cgroup.procs"));
  return {
    argv: ["/bin/sh", "-c", JOIN_SCRIPT, "queuectl-limits", ...procs, "--", ...wrapped],
    note,
    finish: async (failed, signal, exitCode) => {
      const oomKills = v2
        ? readNumber(join(memoryFolder, "memory.events"), "oom_kill")
        : readNumber(join(memoryFolder, "memory.oom_control"), "oom_kill");
      await emptyAndRemove(folders, () => {
        if (v2) writeFileSync(join(memoryFolder, "cgroup.kill"), "1");
        else killListed(memoryFolder);
      });
      if (oomKills > 0 && limits.memory !== undefined) {
        // The job went over its limit even when the process the kernel killed was only a
        // stage of a pipeline and the shell went on to exit 0: its output is short of what
        // it should be, so the attempt fails, by the retry rules, as any job over its limit.
        const stage = failed ? "" : " (a process of the job; the job then exited 0)";
        return `killed: memory limit ${formatSize(limits.memory)}${stage}`;
      }
      if (!failed) return null;
      return cpuReason(limits, signal, exitCode);
    },
  };
}

/**
 * Notes on the attempt which limits applied and how. Written while the job runs, and
 * awaited before its result is recorded, so `show` always has it.
 */
export class LimitsNote {
  written: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly job: Job,
    private readonly onError: (message: string) => void,
  ) {}

  record(note: string): void {
    const { job } = this;
    this.written = this.store
      .attemptLimitsSet({ jobId: job.id, token: job.token, limits: note })
      .catch((error) => this.onError(`job ${job.id}: ${(error as Error).message}`));
  }
}
