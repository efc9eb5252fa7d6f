/**
 * One command line, from its words to an exit code: the single boundary where errors become
 * one line on stderr (0 ok, 1 runtime failure, 2 bad usage or input). The process around it
 * (errors that escape the command, the detached worker's log) is cli.ts's business, so this
 * runs as well inside a process that is not a queuectl of its own, such as the test runner.
 */

import { statSync } from "node:fs";
import { asksForVersion, commandIndex, helpAsOption, VERSION_FLAGS } from "./cli-argv.ts";
import { directCall } from "./cli-direct.ts";
import { refuseGarbledWords, runDirect } from "./cli-direct-run.ts";
import { reportError } from "./cli-errors.ts";
import { UserError } from "./core/errors.ts";
import { safeText } from "./render.ts";

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
 * A command run from a folder deleted since the shell entered it is refused before it reads
 * a path: a relative one (`--db rel.db`, `add --cwd rel`) would resolve elsewhere, as Bun
 * then reports a folder of its own as the current one, or fail in Bun's own words. On Linux
 * /proc reaches the folder even once it is gone, with no link left to it; elsewhere the
 * check is left to the paths themselves.
 */
function refuseDeletedFolder(): void {
  let gone: boolean;
  try {
    // The folder itself, not its name: a folder may be called "x (deleted)".
    gone = statSync("/proc/self/cwd").nlink === 0;
  } catch {
    return;
  }
  if (gone)
    throw new UserError(
      "the current folder was deleted after the shell entered it",
      "cd to a folder that exists (e.g. `cd ~`) and run the command again",
    );
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
    refuseGarbledWords(args);
    refuseDeletedFolder();
    const direct = directCall(args);
    if (direct !== undefined) await runDirect(direct);
    else await (await import("./cli-program.ts")).runProgram(argv, args);
    return 0;
  } catch (error) {
    return reportError(error, argv.includes("--debug"));
  }
}
