/**
 * How this CLI runs itself again, and where its files are, whether it runs from its sources
 * (`bun src/cli.ts`, the `queuectl` that `npm link` installs) or as the single binary that
 * `bun run build` makes (src/build-binary.ts). A worker started in the background, a service
 * unit and the dashboard's page all need to know.
 *
 * The binary embeds its modules, compiled ahead of time, so it starts two to three times
 * faster; what it cannot embed is knowing that its sources changed since. It records them
 * when it is built (a stamp of every file's modification time) and refuses to run stale
 * code: a binary left behind by `git pull` would otherwise run last week's queue rules.
 */

import { join, resolve } from "node:path";
import { UserError } from "./core/errors.ts";

/** What src/build-binary.ts embeds, as JSON, in the binary; absent when running the sources. */
declare const QUEUECTL_BUILD: string | undefined;

interface BuildFacts {
  /** The absolute path of the sources' `src` folder the binary was built from. */
  sourceDir: string;
  /** sourceStamp() of those sources at build time. */
  stamp: string;
}

const BUILD: BuildFacts | undefined =
  typeof QUEUECTL_BUILD === "string" ? (JSON.parse(QUEUECTL_BUILD) as BuildFacts) : undefined;

/** True inside the binary `bun run build` makes. */
export const RUNS_BUILT = BUILD !== undefined;

/** The `src` folder: this file's own, or the one the binary was built from. */
export const SOURCE_DIR = BUILD?.sourceDir ?? import.meta.dir;

/** The command that starts this same CLI, to which a command's own words are appended. */
export function selfCommand(): string[] {
  // The binary is the whole CLI; Bun passes its words on as if after a script path.
  return RUNS_BUILT ? [process.execPath] : [process.execPath, resolve(SOURCE_DIR, "cli.ts")];
}

/** Files outside `src` that a build also depends on: the dependency versions. */
const BUILD_INPUTS = ["../package.json", "../bun.lock"];

/**
 * The count and newest modification time of every file under `src` and of the dependency
 * manifests. Any edit, checkout, pull or install moves the newest time or the count; a
 * walk of the tree costs about a millisecond.
 */
export function sourceStamp(sourceDir: string): string {
  // Loaded here: a command run from the sources never needs it, and node:fs costs a start.
  const { readdirSync, statSync } = require("node:fs") as typeof import("node:fs");
  let newest = 0;
  let files = 0;
  const note = (path: string) => {
    const mtime = statSync(path).mtimeMs;
    files++;
    if (mtime > newest) newest = mtime;
  };
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else note(path);
    }
  };
  walk(sourceDir);
  for (const input of BUILD_INPUTS) note(resolve(sourceDir, input));
  return `${files}:${newest}`;
}

/**
 * Refuses to run a binary whose sources changed since it was built. A binary copied to a
 * machine without its sources runs as built: there is nothing to compare it with.
 */
export function assertBuildCurrent(): void {
  if (BUILD === undefined) return;
  let stamp: string;
  try {
    stamp = sourceStamp(BUILD.sourceDir);
  } catch {
    return;
  }
  if (stamp === BUILD.stamp) return;
  const root = resolve(BUILD.sourceDir, "..");
  throw new UserError(
    `${process.execPath} was built before the latest change to its sources in ${root}`,
    `build it again with \`bun run build\` in ${root}, or run \`bun ${join(root, "src", "cli.ts")}\``,
  );
}
