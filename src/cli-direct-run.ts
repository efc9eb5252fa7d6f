/**
 * Running a direct call (cli-direct.ts) to its exit code. Apart from the words' parsing, so
 * that the executable's entry (binary-entry.ts) can tell a direct call without bundling the
 * commands it runs.
 */

import type { DirectCall } from "./cli-direct.ts";
import { reportError } from "./cli-errors.ts";
import { UserError } from "./core/errors.ts";
import { safeText } from "./render/terminal-text.ts";

/**
 * Bytes that are not UTF-8 reach us as U+FFFD: stored so, a path or id would silently become
 * another (two different bytes the same id), as a file's would not (refused).
 */
export function refuseGarbledWords(args: string[]): void {
  const garbled = args.find((arg) => arg.includes("\uFFFD"));
  if (garbled !== undefined) {
    throw new UserError(
      `"${safeText(garbled)}" holds bytes that are not UTF-8 text (shown as \uFFFD)`,
      "give it as UTF-8 text, e.g. converted with iconv -t UTF-8",
    );
  }
}

/**
 * Runs `argv` (`[bun, script, ...words]`), a direct call, and returns the exit code, as
 * runCommandLine (cli-run.ts) would: the binary runs such calls from a bundle of their own
 * (cli-direct-entry.ts), which must not load the rest of the CLI.
 */
export async function runDirectCommandLine(argv: string[], call: DirectCall): Promise<number> {
  try {
    refuseGarbledWords(argv.slice(2));
    await runDirect(call);
    return 0;
  } catch (error) {
    // A direct call never carries --debug: the words are only those directCall takes.
    return reportError(error, false);
  }
}

/** `require`, not `await import`: each dynamic import costs a call about a millisecond more. */
export async function runDirect(call: DirectCall): Promise<void> {
  if (call.command === "enqueue") {
    const { enqueueCommand } = require("./commands/enqueue.ts") as typeof import("./commands/enqueue.ts");
    await enqueueCommand(call.json, call.options);
  } else {
    const { statusCommand } = require("./commands/status.ts") as typeof import("./commands/status.ts");
    await statusCommand(call.options);
  }
}
