/**
 * The few C library calls a worker makes once or more per job, made directly (bun:ffi).
 *
 * - pipe2 and fcntl: Bun has no pipe of its own to give a child (output-pipes.ts says why
 *   a job's output must be a pipe).
 * - close: what node:fs's closeSync does, without its wrapping; four per job.
 * - kill: a job's group is signalled once it exits, and is usually empty by then. Node's
 *   process.kill answers that with a thrown ESRCH error, whose stack cost about 25 µs of a
 *   short job's bookkeeping; here it is a return value and errno.
 *
 * Where no C library can be loaded (another platform, another C library), `libc()` is null
 * and callers fall back to Bun's and Node's own calls.
 */

import { dlopen, FFIType, ptr, read } from "bun:ffi";

export const ESRCH = 3;

export type PipeEnds = { read: number; write: number };

export interface Libc {
  /** A new pipe's read and write ends, or null when none could be made. */
  pipe2(flags: number): PipeEnds | null;
  /** fcntl(fd, F_SETFL, flags); 0 on success. */
  setStatusFlags(fd: number, flags: number): number;
  /** close(fd); errors (a descriptor already closed) are the caller's to ignore. */
  close(fd: number): void;
  /** kill(pid, signal): 0, or the errno it failed with. */
  kill(pid: number, signal: number): number;
}

const F_SETFL = 4;

/**
 * Where pipe2 writes its two descriptors: one array for every call, so its address is taken
 * once. They are read back through the address: the JIT does not know the C call wrote the
 * array, and reading it as an array returned the first call's descriptors ever after.
 */
const pair = new Int32Array(2);

/** Undefined until first asked; null where no C library could be loaded. */
let loaded: Libc | null | undefined;

function open(name: string): Libc {
  const { symbols } = dlopen(name, {
    pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    // Variadic in C; its third argument is an int, passed as any int argument is on Linux.
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    kill: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    // glibc's and musl's name for where this thread's errno lives.
    __errno_location: { args: [], returns: FFIType.ptr },
  });
  const pairAddress = ptr(pair);
  // This thread's errno (the worker's runs all start on its main thread), read right after
  // the call that failed, before any other C call can set it again.
  const errnoAddress = symbols.__errno_location();
  // Without it a failed kill could not be told from a group that is gone: no libc, then.
  if (errnoAddress === null) throw new Error("no errno location");
  return {
    pipe2: (flags) =>
      symbols.pipe2(pairAddress, flags) === 0
        ? { read: read.i32(pairAddress, 0), write: read.i32(pairAddress, 4) }
        : null,
    setStatusFlags: (fd, flags) => symbols.fcntl(fd, F_SETFL, flags),
    close: (fd) => {
      symbols.close(fd);
    },
    kill: (pid, signal) => (symbols.kill(pid, signal) === 0 ? 0 : read.i32(errnoAddress, 0)),
  };
}

/** The C library, loaded on first use; null where none can be. */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== "linux") return null;
  // glibc's name first; musl answers to the generic one.
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      loaded = open(name);
      return loaded;
    } catch {
      // Not this library; try the next.
    }
  }
  return null;
}
