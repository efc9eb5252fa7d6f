#!/usr/bin/env bun
/**
 * The entry point. cli-run.ts turns the command line into an exit code; this file owns what
 * belongs to the process itself: a closed stdout pipe and the log of a detached worker.
 */

import { isClosedPipe, runCommandLine } from "./cli-run.ts";

/**
 * `queuectl list | head` closes the pipe early. Like any Unix filter, stop quietly instead
 * of dumping an EPIPE error; whatever the reader wanted has been written. The stream's
 * unhandled 'error' is caught here rather than by a listener on process.stdout, because
 * merely touching process.stdout loads Node's stream machinery: about 15 ms, four times a
 * bare Bun start, paid by every command even when it prints one line.
 */
function exitQuietlyOnClosedPipe(): void {
  // Buffered writes report the closed pipe later, as a rejection of the flush.
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (error: unknown) => {
      if (isClosedPipe(error)) process.exit(0);
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
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

exitQuietlyOnClosedPipe();
await rotateOwnLog();
const exitCode = await runCommandLine(process.argv);
if (exitCode > Number(process.exitCode ?? 0)) process.exitCode = exitCode;
