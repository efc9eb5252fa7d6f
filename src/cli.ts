#!/usr/bin/env bun
/**
 * The entry point: the single boundary where errors become one line on stderr and an exit
 * code (0 ok, 1 runtime failure, 2 bad usage or input). The command line itself is parsed
 * by cli-program.ts, loaded only when cli-direct.ts cannot answer the call without it.
 */

import { asksForVersion, helpAsOption } from "./cli-argv.ts";
import { directCall, runDirect } from "./cli-direct.ts";
import { UserError } from "./core/errors.ts";
import { safeText } from "./render.ts";

/** Node's file-system errors (ENOENT, EACCES, …) are the environment's fault, not a bug. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && /^E[A-Z]+$/.test(String((error as NodeJS.ErrnoException).code ?? ""));
}

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

/** Without a listener, a write to a closed pipe throws at the write itself, inside the command. */
function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "EPIPE";
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

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes("--debug");
  exitQuietlyOnClosedPipe();
  await rotateOwnLog();
  const args = helpAsOption(argv.slice(2));
  try {
    if (asksForVersion(args)) {
      const { version } = (await import("../package.json", { with: { type: "json" } })).default;
      console.log(`queuectl, version ${version}`);
      return;
    }
    const direct = directCall(args);
    if (direct !== undefined) await runDirect(direct);
    else await (await import("./cli-program.ts")).runProgram(argv, args);
  } catch (error) {
    if (isClosedPipe(error)) process.exit(0);
    if (error instanceof UserError) {
      process.stderr.write(`error: ${error.message}${error.hint ? ` — ${error.hint}` : ""}\n`);
      process.exitCode = error.exitCode;
    } else if (isSystemError(error)) {
      process.stderr.write(
        `error: ${safeText(error.message)} — check that the path exists and that you may read and write it\n`,
      );
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = 1;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(
        `error: ${safeText(message)} — this is a bug in queuectl; rerun with --debug and report it\n`,
      );
      if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = 1;
    }
  }
}

await main(process.argv);
