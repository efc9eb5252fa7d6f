/**
 * What belongs to a queuectl process itself, around the command line it runs: errors that
 * escape the command (a failed write of buffered output), the log of a detached worker, and
 * the exit code. Shared by the entry points: the whole CLI (cli.ts) and the binary's bundle
 * for the calls scripts make in loops (cli-direct-entry.ts).
 */

import { installCheckedConsole, lostConsoleOutput } from "./checked-console.ts";
import { reportError } from "./cli-errors.ts";
import { isTerminal } from "./render.ts";

/** Turns `argv` (`[bun, script, ...words]`) into an exit code. */
export type CommandLineRunner = (argv: string[]) => Promise<number>;

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

async function main(run: CommandLineRunner): Promise<void> {
  reportEscapedErrors();
  installCheckedConsole();
  await rotateOwnLog();
  let exitCode = await run(process.argv);
  const lost = lostConsoleOutput();
  if (lost !== null) exitCode = Math.max(exitCode, reportError(lost, false));
  if (exitCode > Number(process.exitCode ?? 0)) process.exitCode = exitCode;
}

/**
 * Runs this process's command line with `run`, and sets the exit code it ends with.
 *
 * Not a top-level await: that would keep the process alive until the command ends, and the
 * compiled binary (build-binary.ts) cannot have one. Without it Bun exits as soon as nothing
 * but promises is left, such as a worker closing a store while its checkpoint thread
 * (unref'd) finishes: the command would end unreported, with exit code 0. A timer stands in.
 */
export function runAsProcess(run: CommandLineRunner): void {
  const keepAlive = setInterval(() => {}, 1 << 30);
  void main(run).finally(() => clearInterval(keepAlive));
}
