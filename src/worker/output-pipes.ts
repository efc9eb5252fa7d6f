/**
 * A job's stdout and stderr as pipes, the kind a shell gives a command.
 *
 * Bun.spawn's "pipe" hands the child one end of a Unix socket pair, and Linux cannot open()
 * a socket through its /proc link: under it `echo x > /dev/stderr`, `tee /dev/stdout` and
 * `curl -o /dev/stdout` fail with ENXIO ("No such device or address"), though scripts use
 * those paths often and they work under a terminal, a shell pipeline, pueue or task-spooler.
 * So on Linux each stream is a pipe(2) made through libc (bun:ffi): the child gets the write
 * end as its stdout or stderr, the worker reads the read end. Where libc cannot be loaded
 * (another platform, another C library), the job gets Bun's sockets, as before.
 *
 * Most jobs are short, and a stream reader per pipe costs more CPU than a short job's whole
 * bookkeeping. So the read ends are non-blocking and nobody reads them at first: a job that
 * exits soon has its output drained in a few reads after it exits (a pipe holds 64 KiB, and
 * the writer waits, not fails, when it is full). Only a job that runs on, or whose output is
 * still held open by a process it left behind, gets the two stream readers (`readers`).
 *
 * The worker owns every descriptor here: it closes its copies of the write ends once the
 * child has its own (else the output would never end), and the read ends once their readers
 * are done or canceled (Bun.file(fd) leaves a descriptor it did not open to its caller).
 */

import { readSync } from "node:fs";
import { type PipeEnds as Ends, type Libc, libc } from "./libc.ts";

const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;

/** A pipe whose two descriptors are close-on-exec (only the child's stdout or stderr survives its exec), its read end non-blocking. */
function makePipe(c: Libc): Ends | null {
  const ends = c.pipe2(O_CLOEXEC);
  if (!ends) return null;
  // The write end stays blocking: a child's write must wait for room, never fail.
  if (c.setStatusFlags(ends.read, O_NONBLOCK) !== 0) {
    closeQuietly(ends.read);
    closeQuietly(ends.write);
    return null;
  }
  return ends;
}

function closeQuietly(fd: number): void {
  // Only called once pipes were made, so the C library is there; a closed descriptor is fine.
  libc()?.close(fd);
}

type Reader = ReadableStreamDefaultReader<Uint8Array>;
export type OutputSink = (chunk: Uint8Array) => void;

/** A child spawned with these pipes: Bun gives it sockets where the pipes are its own ("pipe"). */
interface SpawnedOutput {
  stdout: ReadableStream<Uint8Array> | number | undefined;
  stderr: ReadableStream<Uint8Array> | number | undefined;
}

/** One buffer for every drain: the sinks copy what they keep before the next read. */
const drainBuffer = Buffer.allocUnsafe(64 * 1024);
/**
 * Most a drain reads at once, twice what a pipe holds by default: a leftover process that
 * keeps writing must not hold the worker's thread; the stream readers take the rest.
 */
const DRAIN_MAX_BYTES = 2 * drainBuffer.length;

/**
 * Reads what `fd` holds into `sink`: true once its writers are all closed and it is empty;
 * false when a writer is still open (EAGAIN) or more than DRAIN_MAX_BYTES came, with what was
 * read passed on.
 */
function drain(fd: number, sink: OutputSink): boolean {
  for (let total = 0; total <= DRAIN_MAX_BYTES; ) {
    let read: number;
    try {
      read = readSync(fd, drainBuffer, 0, drainBuffer.length, null);
    } catch {
      // EAGAIN: a writer is still open. Anything else is left to the stream readers to meet.
      return false;
    }
    if (read === 0) return true;
    total += read;
    sink(drainBuffer.subarray(0, read));
  }
  return false;
}

export class OutputPipes {
  private writeOpen = true;
  private readOpen = true;

  /** `ends` null: Bun's sockets, which Bun owns and closes. */
  private constructor(private readonly ends: { stdout: Ends; stderr: Ends } | null) {}

  /** Two fresh pipes, or Bun's sockets where no pipe can be made. */
  static open(): OutputPipes {
    const c = libc();
    const stdout = c && makePipe(c);
    const stderr = stdout && c && makePipe(c);
    if (stdout && !stderr) {
      closeQuietly(stdout.read);
      closeQuietly(stdout.write);
    }
    return new OutputPipes(stdout && stderr ? { stdout, stderr } : null);
  }

  /** For Bun.spawn's stdio: the write ends become the child's stdout and stderr. */
  get childEnds(): [number, number] | ["pipe", "pipe"] {
    return this.ends ? [this.ends.stdout.write, this.ends.stderr.write] : ["pipe", "pipe"];
  }

  /** Whether the output may wait in the pipes until the child exits (`drainAll`); else read it at once (`readers`). */
  get drainable(): boolean {
    return this.ends !== null;
  }

  /** Once the child holds its own copies, or no child started. */
  closeWriteEnds(): void {
    if (!this.ends || !this.writeOpen) return;
    this.writeOpen = false;
    closeQuietly(this.ends.stdout.write);
    closeQuietly(this.ends.stderr.write);
  }

  /**
   * After the child exited: passes on what both pipes hold, stdout's first (so a short job's
   * output tail has its stdout before its stderr, whatever order it wrote them in). True when
   * every writer is gone and nothing is left; false when a process the job left behind holds
   * one open or keeps writing, and the rest is for `readers`.
   */
  drainAll(stdout: OutputSink, stderr: OutputSink): boolean {
    if (!this.ends) return false;
    const stdoutDone = drain(this.ends.stdout.read, stdout);
    return drain(this.ends.stderr.read, stderr) && stdoutDone;
  }

  /** Readers of `child`'s stdout and stderr; each ends when every copy of its write end is closed. */
  readers(child: SpawnedOutput): [Reader, Reader] {
    if (this.ends) {
      return [
        Bun.file(this.ends.stdout.read).stream().getReader(),
        Bun.file(this.ends.stderr.read).stream().getReader(),
      ];
    }
    return [
      (child.stdout as ReadableStream<Uint8Array>).getReader(),
      (child.stderr as ReadableStream<Uint8Array>).getReader(),
    ];
  }

  /** After the readers ended or were canceled; a writer left behind then gets EPIPE. */
  closeReadEnds(): void {
    if (!this.ends || !this.readOpen) return;
    this.readOpen = false;
    closeQuietly(this.ends.stdout.read);
    closeQuietly(this.ends.stderr.read);
  }
}
