/**
 * What a job's command spawns.
 *
 * - An array is exec'd as given once its program is found on the job's PATH (relative to
 *   its cwd). One that cannot be found is handed to a shell, which reports it the shell's
 *   way (exit code 127 or 126 and its message on stderr).
 * - A string runs under `sh -c`, with one shortcut: a plain command, words of ordinary
 *   characters separated by blanks whose first word is no shell builtin or reserved word.
 *   For that the shell would only split the words on the blanks and exec the program it
 *   finds on PATH, so the worker does the same itself and saves the shell's own start
 *   (GNU make takes the same shortcut for a recipe line without shell syntax). The program
 *   sees the same argv[0] as under the shell, the word as typed; should the exec fail (a
 *   script without `#!` gives ENOEXEC), `shell` runs the string after all.
 */

import type { JobSpec } from "../core/spec.ts";

export interface CommandLaunch {
  argv: string[];
  /** argv[0] as the program sees it, when it differs from the path exec'd. */
  argv0?: string;
  /** The shell's argv for a string command taken by the shortcut, to fall back on. */
  shell: string[] | null;
}

/** Runs an array command whose program was not found, so the shell reports it. */
const EXEC_ARGS = 'exec "$@"';

/**
 * Characters a word of a plain command may hold: none of them means anything to a POSIX
 * shell outside a first word (where `=` would make an assignment). Quotes, `$`, `~`,
 * globs, redirections, `#`, `\` and the rest keep the shell.
 */
const PLAIN_WORD = /^[A-Za-z0-9_.,/:@%+=-]+$/;

/**
 * First words that the shell runs itself or treats as syntax, where a program of the same
 * name on PATH may behave differently (`echo -e`, bash's `time`): dash's and bash's common
 * builtins and the reserved words. `true` and `false` are left out on purpose: the program
 * and the builtin differ in nothing but speed.
 */
const SHELL_WORDS = new Set(
  (
    ". : [ [[ alias bg bind break builtin caller cd chdir command compgen complete continue declare " +
    "dirs disown echo enable eval exec exit export fc fg getopts hash help history jobs kill let local " +
    "logout mapfile popd printf pushd pwd read readarray readonly return select set shift shopt source " +
    "suspend test time times trap type typeset ulimit umask unalias unset wait " +
    "! { } case do done elif else esac fi for function if in then until while"
  ).split(" "),
);

/** The words of a plain string command, or null when the shell must read it. */
export function plainCommandWords(command: string): string[] | null {
  const words = command.split(/[ \t]+/).filter((word) => word !== "");
  const [first] = words;
  if (first === undefined || first.includes("=") || SHELL_WORDS.has(first)) return null;
  return words.every((word) => PLAIN_WORD.test(word)) ? words : null;
}

export function commandLaunch(spec: JobSpec, env: Record<string, string | undefined>): CommandLaunch {
  const find = (program: string) => Bun.which(program, { PATH: env.PATH ?? "", cwd: spec.cwd });
  if (typeof spec.command === "string") {
    const shell = ["/bin/sh", "-c", spec.command];
    const words = plainCommandWords(spec.command);
    const [program = "", ...args] = words ?? [];
    const resolved = words ? find(program) : null;
    return resolved ? { argv: [resolved, ...args], argv0: program, shell } : { argv: shell, shell: null };
  }
  const [program = "", ...args] = spec.command;
  const resolved = find(program);
  return {
    argv: resolved ? [resolved, ...args] : ["/bin/sh", "-c", EXEC_ARGS, "queuectl-job", ...spec.command],
    shell: null,
  };
}
