/**
 * The executable's entry point for the calls scripts make in loops, `enqueue '<json>'` and
 * `status` (cli-direct.ts), built as a bundle of its own (build-binary.ts). The whole CLI's
 * bundle holds cac, YAML, the dashboard and the rest of the commands: its size alone, mapped
 * and read at start, costs such a call about two milliseconds. binary-entry.ts loads this one
 * only for words directCall takes, so the answer, output and errors are those of the whole CLI.
 */

import { directCall } from "./cli-direct.ts";
import { runDirectCommandLine } from "./cli-direct-run.ts";
import { runAsProcess } from "./cli-process.ts";

runAsProcess(async (argv) => {
  const call = directCall(argv.slice(2));
  // Loaded only for a direct call; anything else here is a mistake in binary-entry.ts.
  if (call === undefined) throw new Error(`not a direct call: ${argv.slice(2).join(" ")}`);
  return runDirectCommandLine(argv, call);
});
