/**
 * The reaper's journal: where a worker records the process groups it starts and ends
 * without waking its reaper.
 *
 * A line down the reaper's pipe wakes the reaper, and on a busy machine the woken process
 * takes the worker's CPU: about a tenth of the cost of a short job went there. An append to
 * a file wakes nobody. The reaper reads the file only once, after its pipe reached EOF (the
 * worker is gone), through a read-only descriptor opened before the name went, so the file
 * has no name: it is unlinked the moment it is made, and nothing is left behind however the
 * worker ends.
 *
 * Each line ends with ` .`: a write cut short (a full disk) leaves a line the reaper
 * ignores, and the journal is then given up (see Reaper), so no later line is glued to it.
 */

import { closeSync, constants, ftruncateSync, openSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Past this size the journal is emptied once its live groups went down the pipe. */
export const JOURNAL_COMPACT_BYTES = 64 * 1024;

export class ReaperJournal {
  private bytes = 0;

  private constructor(
    /** Where the worker appends. */
    readonly fd: number,
    /** For the reaper, opened before the name went; null once handed over (closeReadEnd). */
    public readFd: number | null,
  ) {}

  /** A new, already unlinked journal in the temporary folder; null when none can be made there. */
  static create(name: string): ReaperJournal | null {
    const path = join(tmpdir(), `queuectl-reaper-${name}`);
    const opened: number[] = [];
    try {
      // Only the owner may read which groups a worker runs; O_EXCL: never someone else's file.
      opened.push(
        openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600),
      );
      opened.push(openSync(path, constants.O_RDONLY));
      unlinkSync(path);
      return new ReaperJournal(opened[0] as number, opened[1] as number);
    } catch {
      for (const fd of opened) closeQuietly(fd);
      if (opened.length > 0) {
        try {
          unlinkSync(path);
        } catch {
          // Never made, or gone already.
        }
      }
      return null;
    }
  }

  /** Once the reaper holds its own copy. */
  closeReadEnd(): void {
    if (this.readFd !== null) closeQuietly(this.readFd);
    this.readFd = null;
  }

  /** True once `lines` are all in the file; false when the write failed or was cut short. */
  append(lines: string): boolean {
    try {
      const length = Buffer.byteLength(lines);
      if (writeSync(this.fd, lines) !== length) return false;
      this.bytes += length;
      return true;
    } catch {
      return false;
    }
  }

  get full(): boolean {
    return this.bytes >= JOURNAL_COMPACT_BYTES;
  }

  /** Empties the file; false when it could not be, and the journal must not be used again. */
  empty(): boolean {
    try {
      ftruncateSync(this.fd, 0);
      this.bytes = 0;
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    closeQuietly(this.fd);
    this.closeReadEnd();
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}
