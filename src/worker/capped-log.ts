/**
 * Writers for a running job's output. Both keep memory flat however much the job
 * prints: `CappedLog` streams to disk and rotates (see log-files.ts), `TailBuffer` keeps
 * only the last few KB in memory for the store.
 */

import { closeSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { rotatedPath } from "./log-files.ts";

export class CappedLog {
  /** Every byte the stream produced, including those rotated away. */
  totalBytes = 0;
  /** null before the first output (the file is created then) and after close or a failure. */
  private fd: number | null = null;
  private opened = false;
  private segmentBytes = 0;
  private readonly segmentCap: number;

  constructor(
    private readonly path: string,
    capBytes: number,
  ) {
    this.segmentCap = Math.max(1, Math.floor(capBytes / 2));
  }

  write(chunk: Uint8Array): void {
    this.totalBytes += chunk.length;
    if (!this.opened) {
      this.opened = true;
      this.fd = this.open();
    }
    let offset = 0;
    while (this.fd !== null && offset < chunk.length) {
      if (this.segmentBytes >= this.segmentCap) this.rotate();
      if (this.fd === null) return;
      const length = Math.min(this.segmentCap - this.segmentBytes, chunk.length - offset);
      try {
        const written = writeSync(this.fd, chunk, offset, length);
        offset += written;
        this.segmentBytes += written;
      } catch {
        // A full disk must not fail the job or the worker; the byte count stays true.
        this.close();
      }
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed by the OS on a failed write; nothing left to release.
    }
    this.fd = null;
  }

  private open(): number | null {
    try {
      return openSync(this.path, "w", 0o600);
    } catch {
      // The first log of this home: logs hold the output of arbitrary commands, so only the owner may read them.
      try {
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
        return openSync(this.path, "w", 0o600);
      } catch {
        return null;
      }
    }
  }

  private rotate(): void {
    this.close();
    try {
      renameSync(this.path, rotatedPath(this.path));
    } catch {
      // Without the rename the next open truncates; the tail is still kept, just shorter.
    }
    this.fd = this.open();
    this.segmentBytes = 0;
  }
}

/**
 * The last `capBytes` of everything pushed, across both streams in arrival order. A ring
 * made on the first push: each chunk is copied in place, so a job printing a gigabyte
 * leaves no trail of copies for the garbage collector.
 */
export class TailBuffer {
  private ring: Uint8Array | null = null;
  /** Where the next byte goes. */
  private end = 0;
  /** Bytes held, at most capBytes. */
  private held = 0;

  constructor(private readonly capBytes: number) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.capBytes === 0) return;
    this.ring ??= new Uint8Array(this.capBytes);
    const ring = this.ring;
    const kept = chunk.length > this.capBytes ? chunk.subarray(chunk.length - this.capBytes) : chunk;
    const first = Math.min(kept.length, this.capBytes - this.end);
    ring.set(kept.subarray(0, first), this.end);
    ring.set(kept.subarray(first), 0);
    this.end = (this.end + kept.length) % this.capBytes;
    this.held = Math.min(this.capBytes, this.held + kept.length);
  }

  text(): string {
    // Most short jobs print nothing: no buffer, no decoder.
    if (this.ring === null || this.held === 0) return "";
    const start = (this.end - this.held + this.capBytes) % this.capBytes;
    const bytes =
      start + this.held <= this.capBytes
        ? this.ring.subarray(start, start + this.held)
        : Buffer.concat([this.ring.subarray(start), this.ring.subarray(0, this.end)]);
    return new TextDecoder().decode(bytes);
  }
}
