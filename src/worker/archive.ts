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

import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  statSync,
  writeSync,
} from "node:fs";
import { UserError } from "../core/errors.ts";
import type { JobRecord } from "../store/store.ts";

/**
 * The archive could not be opened, written or flushed (`code`: ENOSPC, EACCES, …). Its own
 * type, so that `purge --archive` can tell the file it was given from a failing store, and
 * the message names the file, which the system's own ("ENOSPC: …, write") does not.
 */
export class ArchiveWriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`archive ${path}: cannot write it (${code})`);
    this.name = "ArchiveWriteError";
  }
}

export function archiveLine(record: JobRecord): string {
  return `${JSON.stringify({ kind: "job", ...record })}\n`;
}

/**
 * Opens the archive for appending, created 0600 (jobs carry commands and output). With
 * O_NONBLOCK: a purge appends inside its write transaction, and opening a FIFO or a device
 * for writing can wait forever for a reader, holding every writer of the queue back. A FIFO
 * without a reader now fails at once (ENXIO), and anything but a regular file is refused;
 * on a regular file the flag changes nothing.
 */
export function openArchive(path: string): number {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK,
    0o600,
  );
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw Object.assign(new Error(`${path} is not a regular file`), { code: "not a regular file" });
  }
  return fd;
}

/**
 * Refuses, as bad input, an archive path that exists and is no regular file (see
 * openArchive): `config set retention-archive` checks it on this host before any worker
 * would find out at its next purge. `setting` names what was given.
 */
export function assertArchivePath(path: string, setting: string): void {
  let regular: boolean;
  try {
    regular = statSync(path).isFile();
  } catch {
    return;
  }
  if (!regular) {
    throw new UserError(
      `${setting} ${path} is not a regular file`,
      "give the path of an NDJSON file (it is created if missing), e.g. /var/lib/queuectl/archive.ndjson",
    );
  }
}

/** Appends `records` to the file (see openArchive) and flushes it. */
export function appendToArchive(path: string, records: JobRecord[]): void {
  if (records.length === 0) return;
  const bytes = Buffer.from(records.map(archiveLine).join(""));
  try {
    const fd = openArchive(path);
    const before = fstatSync(fd).size;
    try {
      // A disk that fills up part way takes a short write without an error; the next write
      // reports it. Until then the loop goes on, so a purge never commits a cut-off line.
      for (let written = 0; written < bytes.length; )
        written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } catch (error) {
      // Whatever part of these lines made it in goes again: the archive keeps whole lines.
      try {
        ftruncateSync(fd, before);
      } catch {
        // The purge is refused either way; a torn last line is what `import` reports then.
      }
      throw error;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw typeof code === "string" ? new ArchiveWriteError(path, code) : error;
  }
}
