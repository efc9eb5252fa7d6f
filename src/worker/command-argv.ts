/**
 * What a job's command spawns.
 *
 * - An array is exec'd as given once its program is found on the job's PATH (relative to
 *   its cwd). One that cannot be found, or that the exec refuses, is handed to a shell,
 *   which runs it or reports it the shell's way (exit code 127 or 126, a message on stderr).
 * - A string runs under `sh -c`, with one shortcut: a plain command, words of ordinary
 *   characters separated by blanks whose first word is no shell builtin or reserved word.
 *   For that the shell would only split the words on the blanks and exec the program it
 *   finds on PATH, so the worker does the same itself and saves the shell's own start
 *   (GNU make takes the same shortcut for a recipe line without shell syntax). The program
 *   sees the same argv[0] as under the shell, the word as typed; should the exec fail (a
 *   script without `#!` gives ENOEXEC), `sh -c` runs the string after all.
 */

import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { JobSpec } from "../core/spec.ts";

/**
 * Why a job cannot start in `cwd`, or null when it can. The spawn's own error would blame
 * the program (`posix_spawn '/bin/sh'`) for a folder the worker's user may not enter.
 */
export function cwdProblem(cwd: string): string | null {
  try {
    if (!statSync(cwd).isDirectory()) return `cwd ${cwd} is not a folder`;
    accessSync(cwd, constants.X_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return `cwd ${cwd} does not exist`;
    if (code === "EACCES" || code === "EPERM")
      return `cwd ${cwd} cannot be entered: the worker's user may not search it or a folder above it (${code})`;
    return `cwd ${cwd} cannot be used (${code ?? "error"})`;
  }
}

export interface CommandLaunch {
  argv: string[];
  /** argv[0] as the program sees it, when it differs from the path exec'd. */
  argv0?: string;
  /** What to spawn instead if `argv` cannot be (a shell that runs it or says why), or null. */
  fallback: string[] | null;
  /** `PWD` as the shell would have set it, when it differs from the environment's. */
  pwd?: string;
}

/**
 * How long a program found on PATH is remembered. A worker running short jobs looks up the
 * same few programs hundreds of times a second, and each lookup tries every PATH entry in
 * turn; shells remember lookups too (`hash`). A program installed earlier on PATH is seen
 * within this time, and one removed fails the exec and goes to the fallback.
 */
const LOOKUP_TTL_MS = 1_000;
const lookups = new Map<string, { path: string | null; at: number }>();

function findProgram(program: string, path: string, cwd: string | undefined): string | null {
  const key = `${program}\0${path}\0${cwd ?? ""}`;
  const now = Date.now();
  const known = lookups.get(key);
  if (known && now - known.at < LOOKUP_TTL_MS) return known.path;
  const found = Bun.which(program, { PATH: path, cwd });
  // Bounded: a worker sees few distinct programs, but a queue of generated names must not grow this.
  if (lookups.size >= 256) lookups.clear();
  lookups.set(key, { path: found, at: now });
  return found;
}

/** Runs an array command the worker could not exec itself, so the shell runs or reports it. */
const EXEC_ARGS = 'exec "$@"';

/**
 * `sh -c -- <command>`: without `--`, a command that starts with `-` or `+` (`-1`, `-x echo
 * hi`) would be read as options to sh itself. With it, the shell runs the line as a prompt
 * would, and reports an unknown program its way (`-1: not found`, exit code 127).
 */
export function shellArgv(command: string): string[] {
  return ["/bin/sh", "-c", "--", command];
}

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

/**
 * What to spawn for a job. `limited`: the job runs under a limit's wrapper (prlimit or a
 * cgroup shell), which execs the command itself, so a failed exec could not fall back; its
 * string command keeps the shell.
 */
export function commandLaunch(
  spec: JobSpec,
  env: Record<string, string | undefined>,
  limited = false,
): CommandLaunch {
  const path = env.PATH ?? "";
  const find = (program: string) => findProgram(program, path, spec.cwd);
  if (typeof spec.command === "string") {
    const shell = shellArgv(spec.command);
    // An empty PATH entry means the current folder to the shell, and nothing to Bun.which.
    const words = limited || /(^|:)(:|$)/.test(path) ? null : plainCommandWords(spec.command);
    const [program = "", ...args] = words ?? [];
    const resolved = words ? find(program) : null;
    if (!resolved) return { argv: shell, fallback: null };
    const pwd = shellPwd(env.PWD, spec.cwd ?? process.cwd());
    return {
      argv: [execPath(program, resolved), ...args],
      argv0: program,
      fallback: shell,
      ...(pwd === env.PWD ? {} : { pwd }),
    };
  }
  const [program = "", ...args] = spec.command;
  const resolved = find(program);
  const shell = ["/bin/sh", "-c", EXEC_ARGS, "queuectl-job", ...spec.command];
  return resolved
    ? { argv: [execPath(program, resolved), ...args], argv0: program, fallback: shell }
    : { argv: shell, fallback: null };
}

/**
 * What is exec'd for `program`, as execvp and the shell do it: a name with a slash as
 * written (relative to the job's cwd), so that a script's interpreter gets that name as its
 * `$0`; a bare name at the path found on PATH.
 */
function execPath(program: string, resolved: string): string {
  return program.includes("/") ? program : resolved;
}

/**
 * The `PWD` a POSIX shell started in `folder` exports: the inherited one while it is an
 * absolute name of that folder, else the folder's real path.
 */
function shellPwd(inherited: string | undefined, folder: string): string | undefined {
  if (inherited !== undefined && isAbsolute(inherited)) {
    if (inherited === folder) return inherited;
    try {
      const [a, b] = [statSync(inherited), statSync(folder)];
      if (a.dev === b.dev && a.ino === b.ino) return inherited;
    } catch {
      // Gone or unreadable: the real path below.
    }
  }
  try {
    return realpathSync(folder);
  } catch {
    return inherited;
  }
}
