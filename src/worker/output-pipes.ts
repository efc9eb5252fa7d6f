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
function makePipe(make: Pipe2): Ends | null {
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

type Ends = { read: number; write: number };
type Reader = ReadableStreamDefaultReader<Uint8Array>;

/** A child spawned with these pipes: Bun gives it sockets where the pipes are its own ("pipe"). */
interface SpawnedOutput {
  stdout: ReadableStream<Uint8Array> | number | undefined;
  stderr: ReadableStream<Uint8Array> | number | undefined;
}

export class OutputPipes {
  private writeOpen = true;
  private readOpen = true;

  /** `ends` null: Bun's sockets, which Bun owns and closes. */
  private constructor(private readonly ends: { stdout: Ends; stderr: Ends } | null) {}

  /** Two fresh pipes, or Bun's sockets where no pipe can be made. */
  static open(): OutputPipes {
    const make = loadPipe2();
    const stdout = make && makePipe(make);
    const stderr = stdout && make && makePipe(make);
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

  /** Once the child holds its own copies, or no child started. */
  closeWriteEnds(): void {
    if (!this.ends || !this.writeOpen) return;
    this.writeOpen = false;
    closeQuietly(this.ends.stdout.write);
    closeQuietly(this.ends.stderr.write);
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
