/**
 * The calls scripts make in loops, `enqueue '<json>'` and `status`, answered without cac.
 * Loading cac, the argument fix-ups and the command table is a third of such a call's
 * start-up. Only word lists whose meaning is beyond doubt are taken here, parsed exactly as
 * cac would parse them; anything else (help, --debug, a file, a value that cac would read
 * as a number) goes the long way, so output and errors are the same either way.
 */

import type { GlobalOptions } from "./commands/context.ts";

export type DirectCall =
  | { command: "enqueue"; json: string; options: GlobalOptions }
  | { command: "status"; options: GlobalOptions };

/**
 * The call `args` (the words after `queuectl`) make, when it is one of the plain shapes:
 * `enqueue {…}` or `status`, each with `--json` and `--db PATH` (or `--db=PATH`) in any order.
 */
export function directCall(args: string[]): DirectCall | undefined {
  const options: GlobalOptions = {};
  const positionals: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--json" && options.json === undefined) options.json = true;
    else if ((arg === "--db" || arg.startsWith("--db=")) && options.db === undefined) {
      const value = arg === "--db" ? args[++index] : arg.slice("--db=".length);
      if (value === undefined || !isPlainText(value)) return undefined;
      options.db = value;
    } else if (!arg.startsWith("-")) positionals.push(arg);
    else return undefined;
  }
  const [command, argument, ...extra] = positionals;
  if (extra.length > 0) return undefined;
  if (command === "status" && argument === undefined) return { command, options };
  // A JSON object: cac passes such an argument through untouched.
  if (command === "enqueue" && argument?.startsWith("{")) return { command, json: argument, options };
  return undefined;
}

/** A value cac keeps as typed: not empty, not an option, and not one it turns into a number. */
function isPlainText(value: string): boolean {
  return value !== "" && !value.startsWith("-") && !Number.isFinite(Number(value));
}
