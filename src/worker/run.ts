/**
 * Runs one attempt of a job with Bun.spawn and reports how it ended.
 *
 * - A string command runs under `sh -c` (a plain one is exec'd the way the shell would,
 *   see command-argv.ts); an array is exec'd as given, with no shell parsing.
 * - The job leads its own session and process group (`detached`), so signals reach every
 *   process it started, and a Ctrl-C meant for the worker never reaches the job. stdin is
 *   /dev/null, so a job that reads input sees EOF instead of hanging.
 * - The attempt ends when the main process exits. Whatever it left in its group gets
 *   SIGTERM, and SIGKILL once its output closes or a second has passed, so a background
 *   child holding stdout open cannot hang the worker.
 * - The worker's reaper (reaper.ts) records the group from the moment the job starts: when
 *   the worker goes away, even by SIGKILL, the reaper kills the group, so a rescued job
 *   never runs twice at once because its first worker died.
 * - A run the worker stops (timeout, kill, lost lease, `worker stop`) also ends the
 *   processes that left its group with setsid: each attempt carries its own
 *   QUEUECTL_REAPER entry, and every process that has it gets the group's signals. Only
 *   stopped runs pay for that scan of /proc; a job that ends by itself may leave a daemon
 *   on purpose.
 * - Log files are opened on a stream's first output: most short jobs print nothing. A short
 *   job's output is read after it exits (output-reading.ts).
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { formatDurationMs } from "../core/duration.ts";
import type { ResourceLimits } from "../core/resource-limits.ts";
import type { JobSpec } from "../core/spec.ts";
import type { RunResult } from "../store/store.ts";
import { CappedLog, TailBuffer } from "./capped-log.ts";
import { type CommandLaunch, commandLaunch, cwdProblem } from "./command-argv.ts";
import { groupEmptied, killMarked, signalGroup, signalMarked } from "./group-signals.ts";
import { attemptLogBase, LOG_CAP_BYTES, logFilePath, OUTPUT_TAIL_BYTES } from "./log-files.ts";
import { OutputPipes, type OutputSink } from "./output-pipes.ts";
import { OutputReading } from "./output-reading.ts";
import { isProcessAlive } from "./process-info.ts";
import type { Reaper } from "./reaper.ts";
import { type Enforcement, enforceLimits } from "./resource-limits.ts";

/** Between SIGTERM and SIGKILL when a job is stopped (timeout, forced stop, lost lease). Default 5 s. */
export const KILL_GRACE_MS = killGraceFromEnv(5_000);

/**
 * A test hook, not a user setting: QUEUECTL_KILL_GRACE_MS (a whole number of ms, read once at
 * start) shortens the grace for tests of worker processes, which would otherwise wait it out.
 * Anything else leaves the default.
 */
function killGraceFromEnv(fallbackMs: number): number {
  const raw = process.env.QUEUECTL_KILL_GRACE_MS;
  return raw && /^\d+$/.test(raw) ? Number(raw) : fallbackMs;
}
/** After the main process exited by itself: how long the rest of its group may run on (its output read) before SIGKILL. */
const LEFTOVER_GRACE_MS = 1_000;
/** setTimeout fires at once beyond this (about 24.8 days), so longer timeouts re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RunParams {
  jobId: string;
  spec: JobSpec;
  attempt: number;
  token: number;
  /** QUEUECTL_HOME, where the logs go. */
  home: string;
  timeoutMs: number;
  /** The worker's environment; the spec's `env` is laid over it. */
  baseEnv: Record<string, string | undefined>;
  /** QUEUECTL_PROGRESS, QUEUECTL_RESULT and the dependencies' results (job-reports.ts); over the spec's `env`. */
  reportEnv?: Record<string, string>;
  /** The worker's reaper, which kills the job's group if the worker dies. */
  reaper: Reaper;
  /** Resource limits of this attempt (see resource-limits.ts); absent or null for none. */
  limits?: ResourceLimits | null;
  /** Called with how the limits are enforced, once the job has started under them. */
  onLimits?: (note: string) => void;
  /** Between SIGTERM and SIGKILL when the run is stopped. Default KILL_GRACE_MS. */
  killGraceMs?: number;
  /** The jobfile that declares the job, if any: a relative `cwd` is taken from its folder. Default none. */
  source?: string | null;
  /** The worker's id, set as QUEUECTL_WORKER_ID: with the job id and attempt it names this run's processes on the host. Default none. */
  workerId?: string;
}

/**
 * The spec with its `cwd` as the run uses it. A jobfile's relative `cwd` means the folder
 * beside the file, wherever the worker was started; it is resolved here, not when synced,
 * so the revision (and with it what already completed) does not depend on where the
 * checkout lives. Any other relative `cwd` is the worker's own folder's, as the shell's is.
 */
export function runSpec(spec: JobSpec, source: string | null | undefined): JobSpec {
  if (spec.cwd === undefined || isAbsolute(spec.cwd) || !source) return spec;
  return { ...spec, cwd: resolve(dirname(source), spec.cwd) };
}

export interface RunningJob {
  /** The main process, which leads the job's process group; null when it could not start. */
  readonly pid: number | null;
  readonly done: Promise<RunResult>;
  /**
   * SIGTERM to the group, SIGKILL after the kill grace; `reason` becomes the attempt's error.
   * False when the run was already being stopped (the first reason stands) or had exited.
   */
  stop(reason: string): boolean;
  /** Whether the main process has exited: from then on the attempt's outcome is settled. */
  readonly exited: boolean;
  /** Whether the worker asked the run to stop (its timeout, a kill, a lost lease, a stopping worker). */
  readonly stopped: boolean;
}

/** A run that ended with `error` and no exit status: it never started, or the worker lost its end. */
export function failedRun(error: string): RunResult {
  return {
    exitCode: null,
    signal: null,
    error,
    stdoutBytes: 0,
    stderrBytes: 0,
    logPath: null,
    outputTail: null,
  };
}

export function notStarted(error: string): RunningJob {
  return {
    pid: null,
    done: Promise.resolve(failedRun(error)),
    stop: () => false,
    exited: true,
    stopped: false,
  };
}

function lastLine(text: string): string {
  const line = text.trimEnd().split("\n").pop()?.trim() ?? "";
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function describeFailure(exitCode: number | null, signal: string | null, stderrTail: string): string | null {
  if (signal) return `killed by ${signal}`;
  if (exitCode === 0) return null;
  const detail = lastLine(stderrTail);
  return `exited with code ${exitCode}${detail ? `: ${detail}` : ""}`;
}

interface StartedProcess {
  child: Bun.Subprocess<"ignore", "pipe" | number, "pipe" | number>;
  enforcement: Enforcement | null;
}

/** Spawns the job's process, under its limits' enforcement when it has limits, its output into `pipes`. */
function startProcess(
  limits: ResourceLimits | null | undefined,
  launch: CommandLaunch,
  cwd: string | undefined,
  env: Record<string, string | undefined>,
  pipes: OutputPipes,
): StartedProcess {
  const [stdout, stderr] = pipes.childEnds;
  const attempt = (argv: string[], argv0?: string): StartedProcess => {
    const enforcement = limits ? enforceLimits(limits, argv) : null;
    try {
      const child = Bun.spawn(enforcement?.argv ?? argv, {
        cwd,
        env,
        detached: true,
        stdio: ["ignore", stdout, stderr],
        // Under a limit's wrapper, argv[0] is the wrapper's own and the program gets its path.
        argv0: enforcement ? undefined : argv0,
      });
      return { child, enforcement };
    } catch (error) {
      void enforcement?.finish(false, null, null);
      throw error;
    }
  };
  try {
    return attempt(launch.argv, launch.argv0);
  } catch (error) {
    if (!launch.fallback) throw error;
    // The exec refused it (a script without `#!`, a program gone since it was looked up).
    return attempt(launch.fallback);
  }
}

/**
 * What a run needs before its process starts, made while the job waits for a slot. Where its
 * program is and what `PWD` it gets are found at the start: the job before it may install
 * the program or make the folder.
 */
export interface PreparedRun {
  readonly params: RunParams;
  readonly spec: JobSpec;
  readonly env: Record<string, string | undefined>;
  readonly mark: ReturnType<Reaper["attemptMark"]>;
  readonly logBase: string;
}

/** The run's environment and log names. */
export function prepareRun(params: RunParams): PreparedRun {
  const spec = runSpec(params.spec, params.source);
  const mark = params.reaper.attemptMark();
  const env: Record<string, string | undefined> = {
    ...params.baseEnv,
    ...spec.env,
    QUEUECTL_JOB_ID: params.jobId,
    QUEUECTL_ATTEMPT: String(params.attempt),
    ...(params.workerId === undefined ? {} : { QUEUECTL_WORKER_ID: params.workerId }),
    ...params.reportEnv,
    [mark.name]: mark.value,
  };
  return { params, spec, env, mark, logBase: attemptLogBase(params.jobId, params.token) };
}

export function runJob(params: RunParams): RunningJob {
  return startRun(prepareRun(params));
}

/** Starts a prepared run; `onExit` is called once its main process has exited, before its leftovers are stopped and its output closed. */
export function startRun(prepared: PreparedRun, onExit?: () => void): RunningJob {
  const { params, spec, env, mark, logBase } = prepared;
  // Checked at the start, not ahead of it: a job before it may be the one that makes the folder.
  const cwdRefusal = spec.cwd === undefined ? null : cwdProblem(spec.cwd);
  if (cwdRefusal !== null) return notStarted(cwdRefusal);
  const pipes = OutputPipes.open();
  let started: StartedProcess;
  try {
    const launch = commandLaunch(spec, env, Boolean(params.limits));
    const launchEnv = launch.pwd ? { ...env, PWD: launch.pwd } : env;
    started = startProcess(params.limits, launch, spec.cwd, launchEnv, pipes);
  } catch (error) {
    pipes.closeWriteEnds();
    pipes.closeReadEnds();
    return notStarted(`cannot start: ${(error as Error).message}`);
  }
  pipes.closeWriteEnds();
  const { child, enforcement } = started;
  const pid = child.pid;
  params.reaper.watch(pid);
  if (enforcement) params.onLimits?.(enforcement.note);

  const stdoutLog = new CappedLog(logFilePath(params.home, logBase, "stdout"), LOG_CAP_BYTES);
  const stderrLog = new CappedLog(logFilePath(params.home, logBase, "stderr"), LOG_CAP_BYTES);
  const tail = new TailBuffer(OUTPUT_TAIL_BYTES);
  const stderrTail = new TailBuffer(1024);
  const toStdout: OutputSink = (chunk) => {
    stdoutLog.write(chunk);
    tail.push(chunk);
  };
  const toStderr: OutputSink = (chunk) => {
    stderrLog.write(chunk);
    tail.push(chunk);
    stderrTail.push(chunk);
  };
  const output = new OutputReading(pipes, child, toStdout, toStderr);

  let stopReason: string | null = null;
  let stoppedAt = 0;
  let exited = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (reason: string): boolean => {
    // Once the main process exited, its own exit status is the outcome, whatever comes later:
    // also when its exit is not seen here yet (a timeout firing in the same turn of the loop).
    if (stopReason !== null || exited || !isProcessAlive(pid)) return false;
    stopReason = reason;
    stoppedAt = performance.now();
    signalGroup(pid, "SIGTERM");
    signalMarked(mark.entry, "SIGTERM", pid);
    killTimer = setTimeout(() => {
      signalGroup(pid, "SIGKILL");
    }, params.killGraceMs ?? KILL_GRACE_MS);
    return true;
  };

  let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Date.now() + params.timeoutMs;
  const armTimeout = () => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) stop(`timed out after ${formatDurationMs(params.timeoutMs)}`);
    else timeoutTimer = setTimeout(armTimeout, Math.min(remaining, MAX_TIMER_MS));
  };
  armTimeout();

  const done = (async (): Promise<RunResult> => {
    await child.exited;
    exited = true;
    const exitedAt = performance.now();
    onExit?.();
    clearTimeout(timeoutTimer);
    // A group found empty stays empty (no process may join a group that no longer exists),
    // so it needs no SIGKILL, which its number might meet as someone else's group later. A
    // group the stop already gave SIGTERM is only looked at: a second one is "quit now" to
    // many programs.
    const groupHadMembers = signalGroup(pid, stopReason === null ? "SIGTERM" : 0);
    if (!output.drainedAtExit()) {
      // A timer cleared once the output closes: a pending Bun.sleep kept every finished job's
      // second alive, and held a draining worker's exit back by up to a second.
      let leftoverTimer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        output.closed(),
        new Promise<void>((resolve) => {
          leftoverTimer = setTimeout(resolve, LEFTOVER_GRACE_MS);
        }),
      ]);
      clearTimeout(leftoverTimer);
    }
    // A stopped job's processes have the kill grace to shut down, whether or not its main
    // process (a shell that died of the SIGTERM, say) waited for them; what a job that ended
    // by itself left behind has the leftover grace to act on its SIGTERM (a trap that cleans
    // up), held output or not. The slot is not held meanwhile: it went at the exit.
    if (groupHadMembers) {
      const graceEnds =
        stopReason === null
          ? exitedAt + LEFTOVER_GRACE_MS
          : stoppedAt + (params.killGraceMs ?? KILL_GRACE_MS);
      await groupEmptied(pid, graceEnds);
      if (signalGroup(pid, 0)) signalGroup(pid, "SIGKILL");
    }
    // What left the group is found by the attempt's mark, before a retry can start beside it.
    if (stopReason !== null) await killMarked(mark.entry);
    const exitCode = child.exitCode;
    const signal = child.signalCode === null ? null : String(child.signalCode);
    // After the group: what left it (setsid) dies with the cgroup, before the reaper forgets it.
    const limitReason = (await enforcement?.finish(exitCode !== 0, signal, exitCode)) ?? null;
    params.reaper.forget(pid);
    clearTimeout(killTimer);
    await output.cancel();
    pipes.closeReadEnds();
    stdoutLog.close();
    stderrLog.close();
    return {
      exitCode,
      signal,
      error: limitReason ?? stopReason ?? describeFailure(exitCode, signal, stderrTail.text()),
      stdoutBytes: stdoutLog.totalBytes,
      stderrBytes: stderrLog.totalBytes,
      logPath: logBase,
      outputTail: tail.text(),
    };
  })();

  return {
    pid,
    done,
    stop,
    get exited() {
      return exited;
    },
    get stopped() {
      return stopReason !== null;
    },
  };
}
