/**
 * `bun run build`: compiles the CLI into one executable, `dist/queuectl` (or the path given
 * as the first argument), which starts 1.3 to 1.6 times as fast as `bun src/cli.ts`. `bun
 * install` runs it with `--install` (package.json's postinstall), so the `queuectl` that `npm
 * link` installs is this executable.
 *
 * Bun parses and compiles each TypeScript module every time a process starts; a command
 * loads about forty of them, and that, not the work, is most of a short command's time. The
 * binary holds them as bytecode, and the dashboard's page built ahead, so it needs no file
 * of the sources to run. It records where its sources are and a stamp of them (cli-self.ts),
 * so that, while they are there, it runs them instead once they change (binary-entry.ts).
 * The WAL checkpoint thread and the thread that prepares a large bulk input are modules Bun
 * loads by path, so they are built in as entry points of their own; so are the whole CLI and
 * the bundle for the calls scripts make in loops, which binary-entry.ts picks between.
 */

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { sourceStamp } from "./cli-self.ts";
import { buildAssets } from "./dashboard/assets.ts";
import { directCallFacts } from "./direct-call-sources.ts";

const SOURCE_DIR = import.meta.dir;
const ENTRY_POINTS = [
  "binary-entry.ts",
  "cli.ts",
  "cli-direct-entry.ts",
  "store/sqlite/wal-checkpoint-thread.ts",
  "flow/prepare-thread.ts",
];

/** Beside the binary: the stamp it was built with, so that an install can skip a build. */
const stampFileOf = (outfile: string) => `${outfile}.stamp`;

/**
 * What an install leaves when the build fails (no room for 110 MB, a source that does not
 * load): a script that runs the sources with the Bun that ran the install, through
 * binary-entry.ts, which reports a source that does not load in one line. `queuectl` then
 * works, only slower, and the next install tries again.
 */
function installSourcesLauncher(outfile: string): void {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const entry = resolve(SOURCE_DIR, "binary-entry.ts");
  mkdirSync(dirname(outfile), { recursive: true });
  // Renamed into place, as a build is: a running worker's executable cannot be written over.
  const partial = `${outfile}.${process.pid}.tmp`;
  writeFileSync(
    partial,
    `#!/bin/sh\n# Runs the sources: the build failed at install.\nexec ${quote(process.execPath)} ${quote(entry)} "$@"\n`,
  );
  chmodSync(partial, 0o755);
  renameSync(partial, outfile);
}

async function build(outfile: string, install: boolean): Promise<void> {
  // Stamped first: a source changed during the build makes the binary run the sources.
  const facts = { sourceDir: SOURCE_DIR, stamp: sourceStamp(SOURCE_DIR) };
  const stampFile = stampFileOf(outfile);
  // The Bun it carries too: after a Bun upgrade, an install builds again.
  const installed = `${facts.stamp} ${Bun.revision}`;
  if (
    install &&
    existsSync(outfile) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8") === installed
  ) {
    console.log(`${relative(process.cwd(), outfile) || outfile} is up to date`);
    return;
  }
  rmSync(stampFile, { force: true });
  // Renamed into place once whole: a running worker keeps the file it started from.
  const partial = `${outfile}.${process.pid}.tmp`;
  let failure: string | null = null;
  try {
    // In here: a source that does not load fails these too, and must leave the launcher.
    const build = { ...facts, direct: await directCallFacts(SOURCE_DIR) };
    const page = Object.fromEntries(await buildAssets());
    const result = await Bun.build({
      entrypoints: ENTRY_POINTS.map((entry) => resolve(SOURCE_DIR, entry)),
      target: "bun",
      bytecode: true,
      // Package manifests are read so that sources changed since the build (binary-entry.ts)
      // find their dependencies in node_modules, as `bun src/cli.ts` would.
      compile: { outfile: partial, autoloadPackageJson: true },
      define: {
        QUEUECTL_BUILD: JSON.stringify(JSON.stringify(build)),
        QUEUECTL_PAGE: JSON.stringify(JSON.stringify(page)),
      },
    });
    if (!result.success) failure = result.logs.map((log) => String(log.message)).join("; ");
  } catch (error) {
    // Bun.build throws what it cannot build (an AggregateError of its messages) rather than returning it.
    const errors = (error as AggregateError).errors ?? [error];
    failure = errors.map((item: unknown) => String((item as Error)?.message ?? item)).join("; ");
  }
  if (failure !== null) {
    rmSync(partial, { force: true });
    if (!install) {
      console.error(`error: the build failed (${failure}); nothing was installed`);
      process.exit(1);
    }
    installSourcesLauncher(outfile);
    console.error(`warning: queuectl could not be compiled (${failure}); ${outfile} runs the sources`);
    return;
  }
  renameSync(partial, outfile);
  writeFileSync(stampFile, installed);
  const linked = outfile === DEFAULT_OUTFILE ? "; the queuectl that `npm link` installs runs it" : "";
  console.log(
    `built ${outfile}${linked}; it runs its sources instead once they change, until the next build`,
  );
}

const DEFAULT_OUTFILE = resolve(SOURCE_DIR, "..", "dist", "queuectl");
const args = process.argv.slice(2);
const unknown = args.find((arg) => arg.startsWith("-") && arg !== "--install");
if (unknown !== undefined) {
  console.error(`error: unknown option ${unknown}; use \`bun src/build-binary.ts [--install] [outfile]\``);
  process.exit(2);
}
const outfile = args.find((arg) => !arg.startsWith("-")) ?? DEFAULT_OUTFILE;
await build(resolve(outfile), args.includes("--install"));
