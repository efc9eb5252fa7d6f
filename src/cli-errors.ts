/**
 * An error that ended a command, as the one line on stderr users see, and its exit code (0
 * ok, 1 runtime failure, 2 bad usage or input). Shared by the whole CLI (cli-run.ts) and the
 * binary's bundle for the calls scripts make in loops (cli-direct-entry.ts).
 */

import { UserError } from "./core/errors.ts";
import { safeText } from "./render/terminal-text.ts";

/** Node's file-system errors (ENOENT, EACCES, …) are the environment's fault, not a bug. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && /^E[A-Z]+$/.test(String((error as NodeJS.ErrnoException).code ?? ""));
}

/** Without a listener, a write to a closed pipe throws at the write itself, inside the command. */
function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "EPIPE";
}

/**
 * A write of the command's output that failed: a full disk (ENOSPC), an I/O error (EIO), a
 * closed descriptor (EBADF). Writes to a named file carry its path, or become errors of
 * their own (a purge's archive), so they are not mistaken for these.
 */
function isOutputError(error: unknown): error is NodeJS.ErrnoException {
  return isSystemError(error) && error.syscall === "write" && error.path === undefined;
}

function outputErrorLine(error: NodeJS.ErrnoException): string {
  // "ENOSPC: no space left on device, write": the syscall is the same for every one of them.
  const cause = safeText(error.message.replace(/, write$/, ""));
  const fix =
    error.code === "ENOSPC" || error.code === "EDQUOT"
      ? "free some space where it goes"
      : "check the file or device it goes to";
  // Not "run it again": a command that changed the queue (enqueue, cancel) did so before
  // it printed, and running it twice could enqueue a job twice.
  return `error: cannot write the output (${cause}) — ${fix}, or redirect it elsewhere`;
}

/**
 * Reports an error that ended a command as one line on stderr and returns the exit code. Also
 * called for errors that escape the command (cli.ts): a failed write of buffered output is
 * reported after the write returned, often after the command itself.
 */
export function reportError(error: unknown, withStack: boolean): number {
  if (isClosedPipe(error)) return 0;
  if (error instanceof UserError) {
    process.stderr.write(`error: ${error.message}${error.hint ? ` — ${error.hint}` : ""}\n`);
    return error.exitCode;
  }
  if (isOutputError(error)) {
    process.stderr.write(`${outputErrorLine(error)}\n`);
    return 1;
  }
  if (isSystemError(error)) {
    process.stderr.write(
      `error: ${safeText(error.message)} — check that the path exists and that you may read and write it\n`,
    );
    if (withStack && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `error: ${safeText(message)} — this is a bug in queuectl; rerun with --debug and report it\n`,
  );
  if (withStack && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}
