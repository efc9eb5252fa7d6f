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
 * The worker owns every descriptor here: it closes its copies of the write ends once the
 * child has its own (else the output would never end), and the read ends once their readers
 * are done or canceled (Bun.file(fd) leaves a descriptor it did not open to its caller).
 */

import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync } from "node:fs";

const O_CLOEXEC = 0o2000000;

type Pipe2 = (fds: Int32Array, flags: number) => number;

/** Undefined until first asked; null where no C library could be loaded. */
let pipe2: Pipe2 | null | undefined;

function loadPipe2(): Pipe2 | null {
  if (pipe2 !== undefined) return pipe2;
  pipe2 = null;
  if (process.platform !== "linux") return null;
  // glibc's name first; musl answers to the generic one.
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      const { symbols } = dlopen(name, { pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 } });
      pipe2 = (fds, flags) => symbols.pipe2(ptr(fds), flags);
      return pipe2;
    } catch {
      // Not this library; try the next.
    }
  }
  return null;
}

/** A pipe's two descriptors, both close-on-exec: only the child's stdout or stderr survives its exec. */
function makePipe(make: Pipe2): { read: number; write: number } | null {
  const fds = new Int32Array(2);
  if (make(fds, O_CLOEXEC) !== 0) return null;
  return { read: fds[0] as number, write: fds[1] as number };
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

export class OutputPipes {
  private writeOpen = true;
  private readOpen = true;

  private constructor(
    private readonly stdout: { read: number; write: number },
    private readonly stderr: { read: number; write: number },
  ) {}

  /** Two fresh pipes, or null: then the caller spawns with Bun's "pipe" (sockets). */
  static open(): OutputPipes | null {
    const make = loadPipe2();
    if (make === null) return null;
    const stdout = makePipe(make);
    if (stdout === null) return null;
    const stderr = makePipe(make);
    if (stderr === null) {
      closeQuietly(stdout.read);
      closeQuietly(stdout.write);
      return null;
    }
    return new OutputPipes(stdout, stderr);
  }

  /** For Bun.spawn's stdio: the write ends become the child's stdout and stderr. */
  get childEnds(): [number, number] {
    return [this.stdout.write, this.stderr.write];
  }

  /** Once the child holds its own copies, or no child started. */
  closeWriteEnds(): void {
    if (!this.writeOpen) return;
    this.writeOpen = false;
    closeQuietly(this.stdout.write);
    closeQuietly(this.stderr.write);
  }

  /** Readers of stdout and stderr; each ends when every copy of its write end is closed. */
  readers(): [ReadableStreamDefaultReader<Uint8Array>, ReadableStreamDefaultReader<Uint8Array>] {
    return [Bun.file(this.stdout.read).stream().getReader(), Bun.file(this.stderr.read).stream().getReader()];
  }

  /** After the readers ended or were canceled; a writer left behind then gets EPIPE. */
  closeReadEnds(): void {
    if (!this.readOpen) return;
    this.readOpen = false;
    closeQuietly(this.stdout.read);
    closeQuietly(this.stderr.read);
  }
}
