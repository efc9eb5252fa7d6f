/**
 * The entry point of the executable `bun run build` makes (src/build-binary.ts), which
 * `bun install` builds and `npm link` installs as the `queuectl` command.
 *
 * It runs the CLI compiled into it while the sources it was built from are unchanged. Once
 * they change (a `git pull`, an edit, a dependency update) it runs those sources instead, at
 * their speed, until the next build: never the rules of the sources it was built from, and
 * never a refusal in the middle of someone's script. A binary copied to a machine without
 * its sources runs as built.
 */

import { join } from "node:path";
import { BUILD, RUNS_SOURCES_MARK, sourceStamp } from "./cli-self.ts";

function sourcesChangedSinceBuild(): boolean {
  if (BUILD === undefined) return false;
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  return existsSync(BUILD.sourceDir) && sourceStamp(BUILD.sourceDir) !== BUILD.stamp;
}

/** Runs the sources: their own modules, with this executable as the Bun that runs them. */
async function runChangedSources(sourceDir: string): Promise<void> {
  // Read by their cli-self.ts, so that workers they start run this executable again.
  (globalThis as Record<symbol, unknown>)[RUNS_SOURCES_MARK] = true;
  const entry = join(sourceDir, "cli.ts");
  try {
    await import(entry);
  } catch (error) {
    // The sources no longer load (an edit half made, say): `bun src/cli.ts` would fail alike.
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    console.error(
      `error: this queuectl runs its sources since they changed, and ${entry} does not load (${reason}); fix it, or rebuild with \`bun run build\` in ${join(sourceDir, "..")}`,
    );
    process.exit(1);
  }
}

// Not a top-level await: the binary is built as one script, where none is allowed.
if (BUILD !== undefined && sourcesChangedSinceBuild()) void runChangedSources(BUILD.sourceDir);
else void import("./cli.ts");
