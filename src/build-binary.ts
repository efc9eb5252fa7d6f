/**
 * `bun run build`: compiles the CLI into one executable, `dist/queuectl` (or the path given
 * as the first argument), for a start two to three times faster than `bun src/cli.ts`.
 *
 * Bun parses and compiles each TypeScript module every time a process starts; a command
 * loads about forty of them, and that, not the work, is most of a short command's time. The
 * binary holds them as bytecode. It records where its sources are and a stamp of them
 * (cli-self.ts), so it refuses to run once they change instead of running stale code. The
 * WAL checkpoint thread is a module of its own that Bun loads by path, so it is built in as
 * a second entry point.
 */

import { renameSync } from "node:fs";
import { resolve } from "node:path";
import { sourceStamp } from "./cli-self.ts";

const SOURCE_DIR = import.meta.dir;
const ENTRY_POINTS = ["cli.ts", "store/sqlite/wal-checkpoint-thread.ts"];

async function build(outfile: string): Promise<void> {
  const facts = JSON.stringify({ sourceDir: SOURCE_DIR, stamp: sourceStamp(SOURCE_DIR) });
  const command = [
    process.execPath,
    "build",
    "--compile",
    "--bytecode",
    ...ENTRY_POINTS.map((entry) => resolve(SOURCE_DIR, entry)),
    "--outfile",
    // Renamed into place once whole: a running worker keeps the file it started from.
    `${outfile}.${process.pid}.tmp`,
    "--define",
    `QUEUECTL_BUILD=${JSON.stringify(facts)}`,
  ];
  const child = Bun.spawn(command, { stdout: "inherit", stderr: "inherit" });
  const code = await child.exited;
  if (code === 0) renameSync(`${outfile}.${process.pid}.tmp`, outfile);
  else {
    console.error(
      `error: bun build exited with code ${code}; the sources are unchanged, nothing was installed`,
    );
    process.exit(1);
  }
  console.log(
    `built ${outfile}; put it on your PATH as queuectl, and run \`bun run build\` again after every update`,
  );
}

await build(resolve(process.argv[2] ?? resolve(SOURCE_DIR, "..", "dist", "queuectl")));
