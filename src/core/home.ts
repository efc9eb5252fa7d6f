/** The data folder: QUEUECTL_HOME, default ~/.queuectl. Created 0700, since it holds logs of commands. */

import { chmodSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runtimeError, UserError } from "./errors.ts";

export function queuectlHome(env: Record<string, string | undefined> = process.env): string {
  const configured = env.QUEUECTL_HOME;
  if (configured === undefined) return join(userHome(env), ".queuectl");
  // Often `QUEUECTL_HOME="$DIR"` with DIR unset: the default folder would hide that, and
  // a command run there would make (or read) the wrong queue.
  if (configured.trim() === "")
    throw new UserError("QUEUECTL_HOME is set but empty", "set it to a folder, or unset it for ~/.queuectl");
  return resolve(configured);
}

/**
 * $HOME, as os.homedir() reads it first, and node:os only without it: loading node:os costs
 * every `enqueue` and `status` call about a millisecond.
 */
function userHome(env: Record<string, string | undefined>): string {
  return env.HOME || (require("node:os") as typeof import("node:os")).homedir();
}

/** Creates the folder (and parents) if needed and makes sure only its owner can read it. */
export function ensureHome(home: string = queuectlHome()): string {
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if ((statSync(home).mode & 0o077) !== 0) chmodSync(home, 0o700);
  } catch (error) {
    // A file where the folder should be is a mistyped QUEUECTL_HOME: bad input, not the machine.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") {
      const file = fileOnPath(home);
      if (file === home)
        throw new UserError(
          `the data folder ${home} is a file, not a folder`,
          "set QUEUECTL_HOME to a folder",
        );
      throw new UserError(
        `the data folder ${home} cannot be made: ${file} is a file, not a folder`,
        "move that file aside, or set QUEUECTL_HOME to a folder elsewhere",
      );
    }
    throw runtimeError(
      `cannot create the data folder ${home} (${(error as Error).message})`,
      "set QUEUECTL_HOME to a folder you can write",
    );
  }
  return home;
}

/**
 * Which part of `home` is a file: the folder itself, or a parent the path runs into (its
 * own path then does not exist, so naming it would send users looking for the wrong file).
 */
function fileOnPath(home: string): string {
  for (let path = home; dirname(path) !== path; path = dirname(path)) {
    try {
      if (!statSync(path).isDirectory()) return path;
    } catch {
      // Not there, or not reachable through the file: the file is further up.
    }
  }
  return home;
}

/**
 * This host's name in the worker registry: QUEUECTL_HOST, default the OS host name.
 * Setting it lets several "hosts" share one machine (containers, tests).
 */
export function hostName(env: Record<string, string | undefined> = process.env): string {
  const configured = env.QUEUECTL_HOST;
  return configured && configured.trim() !== ""
    ? configured.trim()
    : (require("node:os") as typeof import("node:os")).hostname();
}
