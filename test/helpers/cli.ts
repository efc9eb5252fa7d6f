/** Test helpers: a temp QUEUECTL_HOME, the real CLI as a subprocess, and deadline-bound waiting. */

import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { needsOwnProcess, runCliInProcess } from "./cli-in-process.ts";

export const CLI_PATH = resolve(import.meta.dir, "../../src/cli.ts");

export interface TempHome {
  home: string;
  env: Record<string, string>;
  cleanup: () => void;
}

/** A fresh QUEUECTL_HOME in a temp folder; its SQLite file is `${home}/jobs.db`. */
export function tempHome(extraEnv: Record<string, string> = {}): TempHome {
  const home = mkdtempSync(join(tmpdir(), "queuectl-test-"));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    QUEUECTL_HOME: home,
    NO_COLOR: "1",
    ...extraEnv,
  };
  delete env.QUEUECTL_DB;
  Object.assign(env, extraEnv);
  return { home, env, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `queuectl ...args` to completion. A command that answers and exits runs inside this
 * test process, through the same entry (cli-run.ts) as the real CLI, with `env` as its
 * environment and its output captured: a process per call made CLI-heavy files the slowest
 * of the suite. Calls that need a process of their own spawn `bun src/cli.ts`: stdin, the
 * commands that run until stopped or wait on others, and any call with `process: true`.
 */
export async function runCli(
  args: string[],
  options: { env: Record<string, string>; stdin?: string; cwd?: string; process?: boolean },
): Promise<CliResult> {
  if (options.process || options.stdin !== undefined || needsOwnProcess(args))
    return runCliProcess(args, options);
  return runCliInProcess(args, options);
}

/** Runs `bun src/cli.ts ...args` as a child process. */
export async function runCliProcess(
  args: string[],
  options: { env: Record<string, string>; stdin?: string; cwd?: string },
): Promise<CliResult> {
  const child = Bun.spawn(["bun", CLI_PATH, ...args], {
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** Runs the CLI and parses its stdout as JSON, failing loudly if the command failed. */
export async function runCliJson<T = unknown>(
  args: string[],
  options: { env: Record<string, string> },
): Promise<T> {
  const result = await runCli([...args, "--json"], options);
  if (result.exitCode !== 0)
    throw new Error(`queuectl ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Polls `check` every `intervalMs` until it returns truthy or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  /** `what` as a function is read at the deadline: output gathered while waiting is shown whole. */
  options: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string) } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as NonNullable<T>;
    await Bun.sleep(options.intervalMs ?? 25);
  }
  const what = typeof options.what === "function" ? options.what() : options.what;
  throw new Error(
    `timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${what ?? "a condition"} (last: ${JSON.stringify(last)})`,
  );
}

/** A clean success: exit 0 and nothing on stderr; returns stdout. */
export function succeeded(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  expect(result.stderr).toBe("");
  return result.stdout;
}

/** Bad input as users must see it: exit 2, one `error:` line naming `fragment`, no stdout. */
export function refused(result: CliResult, fragment: string): void {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr).toContain(fragment);
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
}

/** What `systemd-analyze verify` says of unit files: empty when it finds nothing wrong. */
export async function systemdVerify(files: string[]): Promise<string> {
  const child = Bun.spawn(["systemd-analyze", "verify", ...files], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  await child.exited;
  return `${out}${err}`;
}
