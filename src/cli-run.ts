/**
 * One command line, from its words to an exit code: the single boundary where errors become
 * one line on stderr (0 ok, 1 runtime failure, 2 bad usage or input). The process around it
 * (errors that escape the command, the detached worker's log) is cli.ts's business, so this
 * runs as well inside a process that is not a queuectl of its own, such as the test runner.
 */

import { asksForVersion, commandIndex, helpAsOption, VERSION_FLAGS } from "./cli-argv.ts";
import { directCall, runDirect } from "./cli-direct.ts";
import { UserError } from "./core/errors.ts";
import { safeText } from "./render.ts";

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

/**
 * The words without a `--` typed before the command word (`queuectl -- status`), where it has
 * no command's options to end: Bun drops a first `--` from `bun src/cli.ts -- status` before
 * queuectl sees it, and the compiled binary must read the words the same way.
 */
export function withoutDashesBeforeCommand(args: string[]): string[] {
  const index = args.indexOf("--");
  // Only where a global option could stand: not after the command word, nor as `--db`'s value.
  if (index === -1 || commandIndex(args.slice(0, index)) !== index) return args;
  return [...args.slice(0, index), ...args.slice(index + 1)];
}

/**
 * Runs `argv` (`[bun, script, ...words]`) and returns the exit code. A command that sets
 * `process.exitCode` itself (`wait` when a job failed) keeps it: the larger code wins.
 */
export async function runCommandLine(argv: string[]): Promise<number> {
  const args = helpAsOption(withoutDashesBeforeCommand(argv.slice(2)));
  try {
    if (VERSION_FLAGS.includes(args[0] ?? "") && args.length > 1 && !args.includes("--help")) {
      throw new UserError(
        `${args[0]} takes no other words, got "${safeText(args[1] ?? "")}"`,
        "run `queuectl --version` alone",
      );
    }
    if (asksForVersion(args)) {
      const { version } = (await import("../package.json", { with: { type: "json" } })).default;
      console.log(`queuectl, version ${version}`);
      return 0;
    }
    // Bytes that are not UTF-8 reach us as U+FFFD: stored so, a path or id would silently
    // become another (two different bytes the same id), as a file's would not (refused).
    const garbled = args.find((arg) => arg.includes("\uFFFD"));
    if (garbled !== undefined) {
      throw new UserError(
        `"${safeText(garbled)}" holds bytes that are not UTF-8 text (shown as \uFFFD)`,
        "give it as UTF-8 text, e.g. converted with iconv -t UTF-8",
      );
    }
    const direct = directCall(args);
    if (direct !== undefined) await runDirect(direct);
    else await (await import("./cli-program.ts")).runProgram(argv, args);
    return 0;
  } catch (error) {
    return reportError(error, argv.includes("--debug"));
  }
}
