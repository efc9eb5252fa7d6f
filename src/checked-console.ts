/**
 * console.log for the queuectl process, with failed writes reported. Bun's own console.log
 * drops a write that fails, so `queuectl config get max_retries > file` on a full disk left
 * an empty file and exited 0. This one writes to fd 1 synchronously and keeps the first
 * failure for cli.ts, which reports it once the command has ended (one line, exit 1; a
 * closed pipe ends quietly, as with any Unix filter). The command itself is not cut short:
 * `worker stop --all` still stops every worker when it cannot say so.
 *
 * Synchronous, so lines keep their order with Bun's buffered writers, and a command that
 * prints and exits has written everything. Only cli.ts installs it: a program that runs
 * commands in process (the test runner) keeps its own console.log.
 */

type WriteSync = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/** How long to wait before writing again to a full non-blocking pipe (a slow reader). */
const FULL_PIPE_PAUSE_MS = 1;

let writeSync: WriteSync | null = null;
const pause = new Int32Array(new SharedArrayBuffer(4));
const encoder = new TextEncoder();
/** The first write that failed. */
let failure: Error | null = null;

/** Writes all of `text` to fd 1, waiting out a full pipe; any other failure throws. */
function writeAll(text: string): void {
  // Loaded on first use: `--version` and `--help` need no node:fs otherwise.
  writeSync ??= (require("node:fs") as typeof import("node:fs")).writeSync as WriteSync;
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset, bytes.length - offset);
    } catch (error) {
      // Once process.stdout was used, fd 1 is non-blocking, and a pipe its reader has not
      // emptied refuses the write for now.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, FULL_PIPE_PAUSE_MS);
    }
  }
}

/** Each argument as console.log shows it, space-separated, as one line. */
function lineOf(args: unknown[]): string {
  return `${args.map((arg) => (typeof arg === "string" ? arg : Bun.inspect(arg))).join(" ")}\n`;
}

/** Replaces console.log (and console.info, its alias) for the rest of the process. */
export function installCheckedConsole(): void {
  const log = (...args: unknown[]) => {
    // Each line is tried even after a failure: a long-running `watch` whose log disk filled
    // up writes again once there is room. The first failure is the one reported.
    try {
      writeAll(lineOf(args));
    } catch (error) {
      failure ??= error as Error;
    }
  };
  console.log = log;
  console.info = log;
}

/**
 * Records a failed write of the command's output made another way (a worker's event lines
 * go through process.stdout), so that it is reported as console.log's would be.
 */
export function noteLostOutput(error: Error): void {
  failure ??= error;
}

/** The first failed write of console.log since it was installed, or null. */
export function lostConsoleOutput(): Error | null {
  return failure;
}
