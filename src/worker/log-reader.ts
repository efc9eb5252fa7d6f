/**
 * Reads an attempt's captured output back: all of it, or as it grows (`logs --follow`).
 * Both read in fixed-size chunks, so a capped 10 MB log never sits in memory whole.
 * Rotation (see log-files.ts) moves the file being written to `<file>.1`; the follower
 * keeps its open descriptor, drains it, then switches to the new file.
 */

import { closeSync, constants, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { runtimeError } from "../core/errors.ts";
import { rotatedPath } from "./log-files.ts";

const CHUNK_BYTES = 64 * 1024;

type Sink = (chunk: Uint8Array) => void;

/** Copies everything from the descriptor's position to its current end. */
function drain(fd: number, sink: Sink): number {
  const buffer = new Uint8Array(CHUNK_BYTES);
  let total = 0;
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read <= 0) return total;
    total += read;
    sink(buffer.slice(0, read));
  }
}

/**
 * Opens a log for reading, or null when there is none. Non-blocking, so that a FIFO put in its
 * place cannot hold the reader forever; anything but a regular file there is named.
 */
function openLog(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EISDIR") return null;
    throw notALogFile(path);
  }
  if (fstatSync(fd).isFile()) return fd;
  closeSync(fd);
  throw notALogFile(path);
}

function notALogFile(path: string) {
  return runtimeError(
    `${path} is not a log file (queuectl writes them as regular files)`,
    "remove it; the attempt's output there is lost",
  );
}

function dumpFile(path: string, sink: Sink): number {
  const fd = openLog(path);
  if (fd === null) return 0;
  try {
    return drain(fd, sink);
  } finally {
    closeSync(fd);
  }
}

/** Whether any file of this stream is on disk. */
export function logExists(path: string): boolean {
  return existsSync(path) || existsSync(rotatedPath(path));
}

/** Writes the kept tail of one stream (older half first) and returns the bytes written. */
export function dumpLog(path: string, sink: Sink): number {
  return dumpFile(rotatedPath(path), sink) + dumpFile(path, sink);
}

/** Hands out a growing log in order, across rotations. */
export class LogFollower {
  private fd: number | null = null;
  private inode = 0;
  private started = false;

  constructor(private readonly path: string) {}

  /** Passes on whatever was written since the last call. */
  poll(sink: Sink): void {
    if (!this.started) {
      // The older half is complete once rotated; the current file is read from its start below.
      if (existsSync(this.path)) dumpFile(rotatedPath(this.path), sink);
      this.started = existsSync(this.path);
      if (!this.started) return;
    }
    for (;;) {
      if (this.fd === null && !this.open()) return;
      const fd = this.fd as number;
      drain(fd, sink);
      let current: number;
      try {
        current = statSync(this.path).ino;
      } catch {
        return; // between the rename and the new file's creation
      }
      if (current === this.inode) return;
      drain(fd, sink);
      const finished = this.inode;
      this.close();
      // Rotated again since (over a segment written between two looks): the rotated file is
      // no longer the one just finished, and it is still on disk whole.
      try {
        if (statSync(rotatedPath(this.path)).ino !== finished) dumpFile(rotatedPath(this.path), sink);
      } catch {
        // No rotated file: nothing in between.
      }
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private open(): boolean {
    const fd = openLog(this.path);
    if (fd === null) return false;
    this.fd = fd;
    this.inode = fstatSync(fd).ino;
    return true;
  }
}
