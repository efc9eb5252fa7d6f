/**
 * Reading a jobfile only once nobody is writing it. A file is read when its size and times
 * have held for the settle time, and they are checked again after the read: a write that
 * began between the check and the read changes them, and the file waits again. So a file
 * is never parsed while writes to it go on; a writer that pauses for longer than the
 * settle time mid-file cannot be told from one that finished (README says to `mv` such
 * files in).
 */

import type { Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { MAX_JOBFILE_BYTES, type ParsedJobfile } from "./parse.ts";
import { parseJobfileBytes, readError, tooLarge } from "./read.ts";
import type { ScannedFile } from "./scan.ts";

/** An mtime this far in the future is clock skew (e.g. a network mount), not a write in progress. */
const MAX_CLOCK_SKEW_MS = 2000;

export type SettledRead =
  | { kind: "read"; parsed: ParsedJobfile; key: string }
  /** Still changing: look again at `at` (ms since the epoch). */
  | { kind: "wait"; at: number }
  | { kind: "gone" };

/** Changes with every write, truncation, rename-over and chmod of the file. */
export function statKey(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

/**
 * When the file's content last changed. mtime, not ctime: a copy that restores an old
 * mtime (`cp -p`, tar, rsync) does so only after the last byte is written, and a chmod or
 * `touch -d` must not hold a finished file back. The check after the read compares ctime too.
 */
function changedAt(stats: Stats): number {
  return stats.mtimeMs;
}

/**
 * Reads and parses `file` if it has settled. `file.stats` is the stat the caller made when
 * it found the file; `now` is read after the bytes are, since reading may take a while.
 */
export async function readSettled(
  file: ScannedFile,
  settleMs: number,
  now: () => number,
): Promise<SettledRead> {
  const key = statKey(file.stats);
  const age = now() - changedAt(file.stats);
  if (settleMs > 0 && age < settleMs && age > -MAX_CLOCK_SKEW_MS) {
    return { kind: "wait", at: changedAt(file.stats) + settleMs };
  }
  if (file.stats.size > MAX_JOBFILE_BYTES) return { kind: "read", parsed: tooLarge(file.rel), key };
  let bytes: Buffer;
  let after: Stats;
  try {
    bytes = await readFile(file.real);
    after = await stat(file.real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "gone" };
    return { kind: "read", parsed: readError(file.rel, code), key };
  }
  if (statKey(after) !== key) return { kind: "wait", at: now() + settleMs };
  return { kind: "read", parsed: parseJobfileBytes(bytes, file.rel), key };
}
