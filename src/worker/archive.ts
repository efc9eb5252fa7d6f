/**
 * The archive a purge appends to (`purge --archive FILE`, config `retention-archive`): one
 * line per job in the shape `export` writes (`{"kind":"job",…}`, parsed by
 * commands/export-format.ts), so `queuectl import FILE` reads an archive back and
 * `queuectl show --archive FILE ID` finds a job in it.
 *
 * The append is synchronous and flushed to disk (fsync) inside the purge's transaction,
 * before the delete commits: after a crash a job may be both in the archive and still in
 * the store, never in neither.
 */

import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { JobRecord } from "../store/store.ts";

export function archiveLine(record: JobRecord): string {
  return `${JSON.stringify({ kind: "job", ...record })}\n`;
}

/** Appends `records` to the file (created 0600: jobs carry commands and output) and flushes it. */
export function appendToArchive(path: string, records: JobRecord[]): void {
  if (records.length === 0) return;
  const fd = openSync(path, "a", 0o600);
  try {
    writeSync(fd, records.map(archiveLine).join(""));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
