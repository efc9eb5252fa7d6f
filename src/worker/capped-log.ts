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

/** The last `capBytes` of everything pushed, across both streams in arrival order. */
export class TailBuffer {
  private chunks: Uint8Array[] = [];
  private length = 0;

  constructor(private readonly capBytes: number) {}

  push(chunk: Uint8Array): void {
    const kept = chunk.length > this.capBytes ? chunk.subarray(chunk.length - this.capBytes) : chunk;
    // Copy: the stream may reuse its buffer for the next read.
    this.chunks.push(kept.slice());
    this.length += kept.length;
    while (this.length - (this.chunks[0]?.length ?? 0) >= this.capBytes) {
      this.length -= this.chunks.shift()?.length ?? 0;
    }
  }

  text(): string {
    // Most short jobs print nothing: no buffer, no decoder.
    if (this.length === 0) return "";
    const joined = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    const start = Math.max(0, this.length - this.capBytes);
    return new TextDecoder().decode(joined.subarray(start));
  }
}
