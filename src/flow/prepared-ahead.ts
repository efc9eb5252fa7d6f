/**
 * A large streamed input prepared on a second thread (prepare-thread.ts) while this one
 * writes: parsing, checking and hashing each line costs about as much as its INSERT, and
 * the two now run side by side (`enqueue -f` of 100,000 jobs: see bench/RESULTS.md). The
 * blocks arrive in input order, and a bad line is refused as it would be here, with the
 * same message, once the blocks before it have been written.
 */

import { entryPointModule } from "../cli-self.ts";
import type { QueueConfig } from "../core/config.ts";
import { UserError } from "../core/errors.ts";
import { type PackedBlock, type PreparedLine, unpackBlock } from "./prepared-block.ts";

/** What the thread is asked: to start on a file, or that a block it sent was taken. */
export type ThreadRequest =
  | { kind: "start"; path: string; readHint: string; name: string; config: QueueConfig; now: number }
  | { kind: "taken" };

/** What the thread reports: a block, the input's end, a refused line, or a failure of its own. */
export type ThreadReport =
  | { kind: "block"; block: PackedBlock }
  | { kind: "end" }
  | { kind: "refused"; message: string; hint: string; exitCode: number }
  | { kind: "failed"; message: string; stack?: string };

/** The file a streamed input is read from, which the thread reads for itself. */
export interface InputFile {
  path: string;
  /** The hint of an error reading it. */
  readHint: string;
}

/**
 * The thread, started before its input's config is known: loading its modules takes a
 * process about as long as opening the store, so `enqueue -f` starts it first and the two
 * overlap (bench/RESULTS.md). Until it is given a file it reads nothing.
 */
export class PreparingThread {
  private readonly thread = new Worker(entryPointModule("flow/prepare-thread.ts"));
  private readonly reports: ThreadReport[] = [];
  private wake: (() => void) | null = null;
  private stopped = false;

  constructor() {
    this.thread.onmessage = (event: MessageEvent<ThreadReport>) => this.arrive(event.data);
    this.thread.onerror = (event: ErrorEvent) => this.arrive({ kind: "failed", message: event.message });
    // A thread that ended without a word would otherwise leave this one waiting for ever.
    (this.thread as unknown as EventTarget).addEventListener("close", () =>
      this.arrive({ kind: "failed", message: "the thread ended before the input did" }),
    );
  }

  private arrive(report: ThreadReport): void {
    this.reports.push(report);
    this.wake?.();
    this.wake = null;
  }

  send(request: ThreadRequest): void {
    this.thread.postMessage(request);
  }

  async nextReport(): Promise<ThreadReport> {
    while (this.reports.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.reports.shift() as ThreadReport;
  }

  /** Ends the thread; a second call does nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.thread.terminate();
  }
}

/**
 * The prepared blocks of `file` in input order, from `given` (default: a thread started at
 * the first block asked for); the thread ends when the caller stops.
 */
export async function* preparedAhead(
  file: InputFile,
  name: string,
  config: QueueConfig,
  now: number,
  given?: PreparingThread,
): AsyncGenerator<PreparedLine[]> {
  // Made here, not as a default argument: that would start the thread when the generator is
  // made, and a caller that fails before asking for a block would never stop it.
  const thread = given ?? new PreparingThread();
  try {
    thread.send({ kind: "start", ...file, name, config, now });
    for (;;) {
      const report = await thread.nextReport();
      if (report.kind === "end") return;
      if (report.kind === "refused") throw new UserError(report.message, report.hint, report.exitCode);
      if (report.kind === "failed") throw threadFailure(name, report);
      thread.send({ kind: "taken" });
      yield unpackBlock(report.block);
    }
  } finally {
    thread.stop();
  }
}

/**
 * An unexpected failure of the thread, as a bug to report: the stack it had on the thread
 * follows this one's, so that `--debug` shows where preparing failed, not only where it was
 * noticed.
 */
function threadFailure(name: string, report: Extract<ThreadReport, { kind: "failed" }>): Error {
  const error = new Error(`preparing ${name} failed: ${report.message}`);
  if (report.stack) error.stack = `${error.stack}\non the preparing thread:\n${report.stack}`;
  return error;
}
