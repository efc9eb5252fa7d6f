/**
 * The entry point of the executable `bun run build` makes (src/build-binary.ts), which
 * `bun install` builds and `npm link` installs as the `queuectl` command.
 *
 * It runs the CLI compiled into it while the sources it was built from are unchanged (for
 * `enqueue '<json>'` and `status`, the sources those calls run). Once they change (a
 * `git pull`, an edit, a dependency update) it runs those sources instead, at their speed,
 * until the next build: never the rules of the sources it was built from, and
 * never a refusal to run sources that load. The sources are those beside the executable
 * (`<clone>/dist/queuectl`), so that a clone moved, renamed or copied follows its own, else
 * those it was built from; an executable copied to a machine without either runs as built.
 *
 * Run by Bun from the sources, as the script an install leaves when the build failed, it
 * loads src/cli.ts and reports in one line why it does not load.
 */

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { directCall } from "./cli-direct.ts";
import { BUILD, entryPointModule, listedStamp, RUNS_SOURCES_MARK, sourceStamp } from "./cli-self.ts";

/** The sources this executable should follow, if they are on this machine. */
function sourcesOnDisk(): string | null {
  if (BUILD === undefined) return null;
  const beside = resolve(dirname(process.execPath), "..", "src");
  if (existsSync(join(beside, "cli.ts"))) return beside;
  return existsSync(BUILD.sourceDir) ? BUILD.sourceDir : null;
}

/**
 * Whether the sources differ from what this executable would run for these words: for a
 * direct call only the files it runs (listedStamp, direct-call-sources.ts), else all of
 * them. Sources this user may not read do not count.
 */
function changedSinceBuild(build: NonNullable<typeof BUILD>, sourceDir: string, direct: boolean): boolean {
  try {
    if (direct) return listedStamp(sourceDir, build.direct.files) !== build.direct.stamp;
    return sourceStamp(sourceDir) !== build.stamp;
  } catch {
    // A folder this user may not list: what was built is all there is to run.
    return false;
  }
}

/**
 * Sources older than this file start workers as `<executable> <src>/cli.ts worker …`, as if
 * the executable were Bun: that leading path is dropped, as Bun would take it.
 */
function dropSourcesPath(sourceDir: string): void {
  const first = process.argv[2];
  if (first !== undefined && resolve(first) === join(sourceDir, "cli.ts")) process.argv.splice(2, 1);
}

async function runSources(sourceDir: string, changed: boolean): Promise<void> {
  const clone = resolve(sourceDir, "..");
  // Bun installs what a script lacks on the fly; an executable cannot, so it says what to do.
  if (changed && !existsSync(join(clone, "node_modules"))) {
    console.error(
      `error: this queuectl runs its sources since they changed, and their dependencies are not installed in ${clone}; run \`bun install\` there`,
    );
    process.exit(1);
  }
  // Read by the sources' cli-self.ts, so that workers they start run this executable again.
  if (changed) (globalThis as Record<symbol, unknown>)[RUNS_SOURCES_MARK] = true;
  const entry = join(sourceDir, "cli.ts");
  try {
    await import(entry);
  } catch (error) {
    // The sources no longer load (an edit half made, a merge conflict): `bun src/cli.ts` fails alike.
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    const why = changed ? "this queuectl runs its sources since they changed, and " : "";
    console.error(
      `error: ${why}${entry} does not load (${reason}); fix it or put it back (\`git status\`), then run \`bun run build\` in ${clone}`,
    );
    process.exit(1);
  }
}

/**
 * Runs the CLI this executable embeds. The calls scripts make in loops get a bundle of their
 * own (cli-direct-entry.ts), half the size of the whole CLI's (cli.ts), which a start pays
 * for by its size. Each is an entry point of the build, found beside this one's by path.
 */
function runEmbedded(direct: boolean): void {
  require(entryPointModule(direct ? "cli-direct-entry.ts" : "cli.ts"));
}

// Not a top-level await: the executable's bundles are built as scripts, where none is allowed.
const sources = sourcesOnDisk();
if (BUILD === undefined) void runSources(import.meta.dir, false);
else {
  if (sources !== null) dropSourcesPath(sources);
  const direct = directCall(process.argv.slice(2)) !== undefined;
  if (sources !== null && changedSinceBuild(BUILD, sources, direct)) void runSources(sources, true);
  else runEmbedded(direct);
}
