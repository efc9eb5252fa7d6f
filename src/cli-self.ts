/**
 * How this CLI runs itself again, and where its files are, whether it runs from its sources
 * (`bun src/cli.ts`) or as the single executable that `bun install` and `bun run build` make
 * (src/build-binary.ts; the `queuectl` that `npm link` installs). A worker started in the
 * background, a service unit and the dashboard's page all need to know.
 *
 * The binary embeds its modules, compiled ahead of time, so it starts 1.3 to 1.6 times as fast;
 * what it cannot embed is knowing that its sources changed since. It records them when it
 * is built (a stamp of every source file's place, size and modification time, and one of the
 * files a direct call runs), and once they change it runs them instead of what it embeds
 * (src/binary-entry.ts): a binary left behind by `git pull` would otherwise run last week's
 * rules.
 */

import { dirname, resolve } from "node:path";

/** What src/build-binary.ts embeds, as JSON, in the binary; absent when running the sources. */
declare const QUEUECTL_BUILD: string | undefined;

interface BuildFacts {
  /** The absolute path of the sources' `src` folder the binary was built from. */
  sourceDir: string;
  /** sourceStamp() of those sources at build time. */
  stamp: string;
  /**
   * The files (from `sourceDir`) the direct calls' bundle and the executable's entry are built
   * from, and their listedStamp() at build time: all a direct call runs.
   */
  direct: { files: string[]; stamp: string };
}

export const BUILD: BuildFacts | undefined =
  typeof QUEUECTL_BUILD === "string" ? (JSON.parse(QUEUECTL_BUILD) as BuildFacts) : undefined;

/**
 * Set by the binary, on the global object, before it runs sources that changed since it was
 * built: those sources' own copy of this module has no BUILD, yet runs inside the binary.
 */
export const RUNS_SOURCES_MARK = Symbol.for("queuectl.binary-runs-changed-sources");

/** True inside the executable `bun run build` makes, whether it runs what it embeds or its sources. */
export const RUNS_AS_EXECUTABLE =
  BUILD !== undefined || (globalThis as Record<symbol, unknown>)[RUNS_SOURCES_MARK] === true;

/** The `src` folder: this file's own, or the one the binary was built from. */
export const SOURCE_DIR = BUILD?.sourceDir ?? import.meta.dir;

/**
 * The module of one of the build's entry points (build-binary.ts), by its path from `src`:
 * a worker thread's (`flow/prepare-thread.ts`), or a bundle the executable picks. In the
 * executable it is embedded beside its main one: the bundler writes the build's own file
 * for `import.meta.url`, so a path made from it would load the clone's sources, or nothing
 * on a machine without them. From the sources, the file.
 */
export function entryPointModule(pathFromSrc: string): string {
  if (BUILD !== undefined) return `${dirname(Bun.main)}/${pathFromSrc.replace(/\.ts$/, ".js")}`;
  return resolve(SOURCE_DIR, pathFromSrc);
}

/** The command that starts this same CLI, to which a command's own words are appended. */
export function selfCommand(): string[] {
  // The binary is the whole CLI; Bun passes its words on as if after a script path.
  return RUNS_AS_EXECUTABLE ? [process.execPath] : [process.execPath, resolve(SOURCE_DIR, "cli.ts")];
}

/** Files outside `src` that a build also depends on: the dependency versions. */
const BUILD_INPUTS = ["../package.json", "../bun.lock"];

/**
 * What the build reads: TypeScript, and the dashboard page's HTML and CSS. Anything else
 * under `src` (an editor's swap file, lock link or backup) is not a source, and must
 * neither stop the binary while a file is open nor hide a real change.
 */
const SOURCE_FILE = /^[^.#][^/]*\.(ts|html|css)$/;

/** Hashes each file it is given, and sums the hashes; see sourceStamp. */
function stampSummer() {
  // Loaded here: a command run from the sources never needs it, and node:fs costs a start.
  const { lstatSync } = require("node:fs") as typeof import("node:fs");
  let sum = 0n;
  return {
    /** `name` is the file's path from the sources' folder, so that a clone moved or copied matches. */
    note(path: string, name: string): void {
      try {
        const stats = lstatSync(path, { throwIfNoEntry: false });
        if (stats?.isFile()) sum += BigInt(Bun.hash(`${name}\0${stats.size}\0${stats.mtimeMs}`));
      } catch (error) {
        // A folder on the way that this user may not search says nothing of the file: the
        // caller runs what was built, as for a folder it may not list. A file in a folder's
        // place, or gone since the walk listed it, is absent.
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EACCES" || code === "EPERM") throw error;
      }
    },
    stamp: () => BigInt.asUintN(64, sum).toString(16).padStart(16, "0"),
  };
}

/**
 * A hash of every source file's path (from `sourceDir`, so that a clone moved or copied with
 * its times kept matches), size and modification time, and of the dependency manifests'.
 * Any edit, checkout, pull or install changes one of them, even one that puts back an older
 * time (`cp -p`). The binary pays it on every start but a direct call's, so each entry is
 * hashed alone and the hashes summed: the sum does not depend on the order a folder lists
 * its entries in, which a copy may change, so nothing is sorted (a sort of the joined
 * listing cost a third of the walk). Bun's recursive readdir would be faster still, but it
 * follows links to folders, and a link loop under `src` would make it run forever. Links
 * are not followed here, and dot-folders are skipped. An entry that cannot be read (a
 * dangling link, a file removed during the walk) counts as absent; a folder this user may
 * not search throws.
 */
export function sourceStamp(sourceDir: string): string {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const summer = stampSummer();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      if (entry.isDirectory()) {
        if (!name.startsWith(".")) walk(`${dir}/${name}`, `${prefix}${name}/`);
      } else if (entry.isFile() && SOURCE_FILE.test(name)) summer.note(`${dir}/${name}`, `${prefix}${name}`);
    }
  };
  walk(sourceDir, "");
  // Named as written, which is their path from `sourceDir`.
  for (const input of BUILD_INPUTS) summer.note(resolve(sourceDir, input), input);
  return summer.stamp();
}

/**
 * The stamp of `files` (paths from `sourceDir`) and of the dependency manifests, as
 * sourceStamp hashes each. A direct call (cli-direct.ts) runs a bundle of about half the
 * sources; a change to the rest does not change what it does, and a file added is only
 * run once a listed one imports it. Checking those alone halves a direct call's stamp.
 */
export function listedStamp(sourceDir: string, files: string[]): string {
  const summer = stampSummer();
  for (const file of [...files, ...BUILD_INPUTS]) summer.note(`${sourceDir}/${file}`, file);
  return summer.stamp();
}
