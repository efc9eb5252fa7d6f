/**
 * A large streamed input prepared on a second thread (prepare-thread.ts) while this one
 * writes: parsing, checking and hashing each line costs about as much as its INSERT, and
 * the two now run side by side (`enqueue -f` of 100,000 jobs: see bench/RESULTS.md). The
 * blocks arrive in input order, and a bad line is refused as it would be here, with the
 * same message, once the blocks before it have been written.
 */

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
  | { kind: "refused"; message: string; hint: string; exitCode: 1 | 2 }
  | { kind: "failed"; message: string; stack?: string };

/** The file a streamed input is read from, which the thread reads for itself. */
export interface InputFile {
  path: string;
  /** The hint of an error reading it. */
  readHint: string;
}

/** The prepared blocks of `file` in input order; the thread ends when the caller stops. */
export async function* preparedAhead(
  file: InputFile,
  name: string,
  config: QueueConfig,
  now: number,
): AsyncGenerator<PreparedLine[]> {
  const thread = new Worker(new URL("./prepare-thread.ts", import.meta.url).href);
  const reports: ThreadReport[] = [];
  let wake: (() => void) | null = null;
  const arrive = (report: ThreadReport) => {
    reports.push(report);
    wake?.();
    wake = null;
  };
  thread.onmessage = (event: MessageEvent<ThreadReport>) => arrive(event.data);
  thread.onerror = (event: ErrorEvent) => arrive({ kind: "failed", message: event.message });
  // A thread that ended without a word would otherwise leave this one waiting for ever.
  (thread as unknown as EventTarget).addEventListener("close", () =>
    arrive({ kind: "failed", message: "the thread ended before the input did" }),
  );
  try {
    const start: ThreadRequest = { kind: "start", ...file, name, config, now };
    thread.postMessage(start);
    for (;;) {
      while (reports.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const report = reports.shift() as ThreadReport;
      if (report.kind === "end") return;
      if (report.kind === "refused") throw new UserError(report.message, report.hint, report.exitCode);
      if (report.kind === "failed") throw threadFailure(name, report);
      const taken: ThreadRequest = { kind: "taken" };
      thread.postMessage(taken);
      yield unpackBlock(report.block);
    }
  } finally {
    thread.terminate();
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
