/**
 * What the operating system will exec. A command over these limits would be accepted and
 * then fail with E2BIG (or ENAMETOOLONG) on every attempt, so the spec refuses it instead.
 *
 * Linux (the binding limits; macOS and the BSDs allow at least as much per argument):
 * - MAX_ARG_STRLEN: one argument, or one `NAME=value` environment entry, is at most 128 KiB
 *   including its terminating NUL, so 131,071 bytes of text. A string command is a single
 *   argument of `sh -c`.
 * - ARG_MAX: all arguments and environment entries together, usually 2 MiB (a quarter of
 *   the 8 MiB stack limit). The worker passes its own environment too, so a job may use
 *   half of it: 1 MiB.
 * - PATH_MAX: a working folder path is at most 4,095 bytes.
 */

export const MAX_ARGUMENT_BYTES = 128 * 1024 - 1;
export const MAX_EXEC_BYTES = 1024 * 1024;
export const MAX_PATH_BYTES = 4095;

const SHELL_ARGV = ["sh", "-c"];

export type ExecSizeProblem =
  | { kind: "argument"; bytes: number }
  | { kind: "env"; name: string; bytes: number }
  | { kind: "total"; bytes: number };

function bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The first limit `command` and `env` break, or null when the job can be exec'd. */
export function execSizeProblem(
  command: string | readonly string[],
  env: Readonly<Record<string, string>> | undefined,
): ExecSizeProblem | null {
  const argv = typeof command === "string" ? [...SHELL_ARGV, command] : command;
  if (surelyFits(argv, env)) return null;
  // Each string is copied with its terminating NUL.
  let total = 0;
  for (const argument of argv) {
    const size = bytes(argument);
    if (size > MAX_ARGUMENT_BYTES) return { kind: "argument", bytes: size };
    total += size + 1;
  }
  for (const [name, value] of Object.entries(env ?? {})) {
    const size = bytes(`${name}=${value}`);
    if (size > MAX_ARGUMENT_BYTES) return { kind: "env", name, bytes: size };
    total += size + 1;
  }
  return total > MAX_EXEC_BYTES ? { kind: "total", bytes: total } : null;
}

/**
 * A UTF-8 string takes at most 3 bytes per UTF-16 unit, so short text is within every limit
 * without counting its bytes: a bulk enqueue checks every job, and counting was a tenth of it.
 */
function surelyFits(argv: readonly string[], env: Readonly<Record<string, string>> | undefined): boolean {
  let most = 0;
  for (const argument of argv) {
    if (argument.length * 3 > MAX_ARGUMENT_BYTES) return false;
    most += argument.length * 3 + 1;
  }
  if (env !== undefined) return false;
  return most <= MAX_EXEC_BYTES;
}

export function pathTooLong(path: string): boolean {
  return bytes(path) > MAX_PATH_BYTES;
}
