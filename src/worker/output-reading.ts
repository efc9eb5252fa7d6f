/**
 * Reads a running job's stdout and stderr into their sinks, as cheaply as the job allows.
 *
 * Two stream readers cost the worker more CPU than all the rest of a short job's
 * bookkeeping, and most jobs are short. So while the job is young its output waits in the
 * pipes (output-pipes.ts), and a job that exits within `READ_LIVE_AFTER_MS` has it drained
 * in a few reads. A job that runs longer gets the readers then, so its log grows as it
 * prints, and a job that prints more than a pipe holds waits at most that long for room.
 * Where the pipes cannot wait (Bun's sockets), the readers start at once.
 */

import type { OutputPipes, OutputSink } from "./output-pipes.ts";

/** How long a job runs before its output is read as it comes rather than after it exits. */
const READ_LIVE_AFTER_MS = 20;

type Reader = ReadableStreamDefaultReader<Uint8Array>;

async function pump(reader: Reader, sink: OutputSink): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      sink(value);
    }
  } catch {
    // Canceled after the main process exited: the rest of the output is dropped on purpose.
  }
}

export class OutputReading {
  private readers: [Reader, Reader] | null = null;
  private pumped: Promise<unknown> | null = null;
  private readonly liveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pipes: OutputPipes,
    private readonly child: Parameters<OutputPipes["readers"]>[0],
    private readonly stdout: OutputSink,
    private readonly stderr: OutputSink,
  ) {
    if (pipes.drainable) this.liveTimer = setTimeout(() => this.readLive(), READ_LIVE_AFTER_MS);
    else this.readLive();
  }

  /**
   * Once the main process exited: true when all its output has been read and no process
   * holds the pipes open any more, so nothing is left to wait for.
   */
  drainedAtExit(): boolean {
    clearTimeout(this.liveTimer);
    return this.pumped === null && this.pipes.drainAll(this.stdout, this.stderr);
  }

  /** Settles when every writer of the output is gone, which a process the job left behind may put off. */
  closed(): Promise<unknown> {
    clearTimeout(this.liveTimer);
    return this.readLive();
  }

  /** Stops the readers, if any started: what a leftover process writes from now on is dropped. */
  async cancel(): Promise<void> {
    if (!this.readers) return;
    await Promise.all(this.readers.map((reader) => reader.cancel().catch(() => {})));
  }

  private readLive(): Promise<unknown> {
    if (this.pumped === null) {
      const readers = this.pipes.readers(this.child);
      this.readers = readers;
      this.pumped = Promise.all([pump(readers[0], this.stdout), pump(readers[1], this.stderr)]);
    }
    return this.pumped;
  }
}
