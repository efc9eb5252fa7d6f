/**
 * The CLI run inside the test process: the same entry as `bun src/cli.ts` (runCommandLine),
 * with the call's environment, working directory and output swapped in for its duration.
 * Calls take turns, since the environment and the standard streams are the process's own.
 */

import { format } from "node:util";
import { runCommandLine } from "../../src/cli-run.ts";
import type { CliResult } from "./cli.ts";

/** Commands that run until stopped, wait on other processes, or own signals and stdin. */
const PROCESS_COMMANDS = new Set(["dashboard", "wait", "watch"]);
const PROCESS_FLAGS = new Set(["--watch", "--follow", "-f"]);

/** Whether `args` needs a `queuectl` process of its own rather than a call in this one. */
export function needsOwnProcess(args: string[]): boolean {
  const words = args.filter((arg) => !arg.startsWith("-"));
  const [command, sub] = words;
  if (command === undefined) return false;
  if (PROCESS_COMMANDS.has(command)) return true;
  // `worker run --drain` returns once the queue is empty, like any command; without it, it
  // runs until stopped, and `worker start` detaches processes of its own.
  if (command === "worker" && sub === "run" && !args.includes("--drain")) return true;
  if (command === "worker" && sub === "start") return true;
  if (command === "logs" && args.some((arg) => PROCESS_FLAGS.has(arg))) return true;
  if (command === "sync" && args.includes("--watch")) return true;
  return false;
}

let turn: Promise<unknown> = Promise.resolve();

export function runCliInProcess(
  args: string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<CliResult> {
  const result = turn.then(() => runNow(args, options));
  turn = result.catch(() => undefined);
  return result;
}

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

async function runNow(
  args: string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const capture =
    (into: string[]): Write =>
    (chunk, encoding, callback) => {
      into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") queueMicrotask(() => done());
      return true;
    };
  const saved = {
    env: { ...process.env },
    cwd: process.cwd(),
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
    log: console.log,
    error: console.error,
    warn: console.warn,
    info: console.info,
    exitCode: process.exitCode,
  };
  replaceEnv(options.env);
  if (options.cwd) process.chdir(options.cwd);
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  console.log = console.info = (...parts: unknown[]) => out.push(`${format(...parts)}\n`);
  console.error = console.warn = (...parts: unknown[]) => err.push(`${format(...parts)}\n`);
  process.exitCode = 0;
  try {
    const code = await runCommandLine(["bun", "queuectl", ...args]);
    return {
      exitCode: Math.max(code, Number(process.exitCode ?? 0)),
      stdout: out.join(""),
      stderr: err.join(""),
    };
  } finally {
    process.stdout.write = saved.stdoutWrite;
    process.stderr.write = saved.stderrWrite;
    Object.assign(console, { log: saved.log, error: saved.error, warn: saved.warn, info: saved.info });
    process.exitCode = saved.exitCode;
    process.chdir(saved.cwd);
    replaceEnv(saved.env as Record<string, string>);
  }
}

function replaceEnv(env: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  for (const [key, value] of Object.entries(env)) if (value !== undefined) process.env[key] = String(value);
}
