#!/usr/bin/env bun

/**
 * The entry point. cli-run.ts turns the command line into an exit code; this file owns what
 * belongs to the process itself: errors that escape the command (a failed write of buffered
 * output) and the log of a detached worker.
 */

import { installCheckedConsole, lostConsoleOutput } from "./checked-console.ts";
import { reportError, runCommandLine } from "./cli-run.ts";
import { isTerminal } from "./render.ts";

/**
 * Errors that escape the command, as one line like any other (cli-run.ts). Mostly a failed
 * write of output: Bun buffers stdout, so a full disk or an I/O error surfaces as the stream's
 * unhandled 'error' (an uncaught exception) and a closed pipe as a rejected flush, often after
 * the command has returned 0. The exit code is set here, before the process exits: left to
 * the end of the run it would read 0. A closed pipe (`queuectl list | head`) still ends
 * quietly, like any Unix filter: whatever the reader wanted has been written. Handled here
 * rather than by a listener on process.stdout, because merely touching process.stdout loads
 * Node's stream machinery: about 15 ms, four times a bare Bun start, paid by every command
 * even when it prints one line.
 */
function reportEscapedErrors(): void {
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (error: unknown) => {
      // Anything else escaping is a bug, most likely in a long-running worker or watcher: its
      // log file keeps the stack, as it always did; a terminal gets it with --debug.
      const stack = process.argv.includes("--debug") || !isTerminal(2);
      const code = Math.max(reportError(error, stack), Number(process.exitCode ?? 0));
      process.exitCode = code;
      process.exit(code);
    });
  }
}

/**
 * A process `worker start` detached writes to a log file it must keep capped. The variable is
 * removed at once so that jobs, and any queuectl they run, do not inherit it.
 */
async function rotateOwnLog(): Promise<void> {
  const pattern = process.env.QUEUECTL_ROTATE_LOG;
  if (pattern === undefined) return;
  delete process.env.QUEUECTL_ROTATE_LOG;
  const { keepLogRotated } = await import("./worker/log-rotation.ts");
  keepLogRotated(pattern.replace("{pid}", String(process.pid)));
}

async function main(): Promise<void> {
  reportEscapedErrors();
  installCheckedConsole();
  await rotateOwnLog();
  let exitCode = await runCommandLine(process.argv);
  const lost = lostConsoleOutput();
  if (lost !== null) exitCode = Math.max(exitCode, reportError(lost, false));
  if (exitCode > Number(process.exitCode ?? 0)) process.exitCode = exitCode;
}

// A top-level await would keep the process alive until the command ends, and the compiled
// binary (build-binary.ts) cannot have one. Without it Bun exits as soon as nothing but
// promises is left, such as a worker closing a store while its checkpoint thread (unref'd)
// finishes: the command would end unreported, with exit code 0. This timer stands in.
const keepAlive = setInterval(() => {}, 1 << 30);
void main().finally(() => clearInterval(keepAlive));
