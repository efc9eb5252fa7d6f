/**
 * `logs --follow` to the job's end: the running attempt's output as it grows, then each
 * retry's, until the job reaches a state it never leaves by itself. `logs` then exits as
 * `wait` does, 0 only when the job completed.
 */

import type { Attempt, Job } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { attemptFiles, dumpAttempt, followAttempt, type LogSink } from "../worker/attempt-logs.ts";
import type { LogStream } from "../worker/log-files.ts";
import { waitForNextAttempt } from "./wait.ts";

export interface FollowParams {
  home: string;
  host: string;
  jobId: string;
  /** The attempt to start from, or null when the job has not started yet. */
  attempt: Attempt | null;
  streams: LogStream[];
  sink: LogSink;
  /**
   * A line for the reader on stderr, such as "(attempt 2: exit 7)", told the bytes of each
   * stream passed on: fewer than the attempt wrote when its log rotated past some unread.
   */
  onAttemptEnd: (attempt: Attempt, shown: Record<LogStream, number>) => void;
  /**
   * Whether a stream that stopped mid-line gets its newline at the attempt's end, so that the
   * note starts on a line of its own (a reader at a terminal), or only once the next attempt
   * prints to it (output saved to a file keeps the job's last bytes). Default: every stream.
   */
  endsLines?: (stream: LogStream) => boolean;
}

const NEWLINE = new Uint8Array([0x0a]);

/**
 * The sink, remembering which streams stopped mid-line: `endLines` ends those lines, so that
 * the attempt's end note and the next attempt's output start on lines of their own.
 */
function lineKeepingSink(sink: LogSink, endsLines: (stream: LogStream) => boolean) {
  const midLine = new Set<LogStream>();
  /** Streams a file reads from: their newline waits for more output, so a job's last bytes stay its own. */
  const owed = new Set<LogStream>();
  return {
    sink: (stream: LogStream, chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      if (owed.delete(stream)) sink(stream, NEWLINE);
      sink(stream, chunk);
      if (chunk[chunk.length - 1] === NEWLINE[0]) midLine.delete(stream);
      else midLine.add(stream);
    },
    endLines: () => {
      for (const stream of midLine) {
        if (endsLines(stream)) sink(stream, NEWLINE);
        else owed.add(stream);
      }
      midLine.clear();
    },
  };
}

/**
 * Whether the attempt's files can be read here: on the host that ran it, or on another one
 * that shares its QUEUECTL_HOME (PostgreSQL hosts with one network home, or one machine
 * running workers under several QUEUECTL_HOST names).
 */
function filesReadableHere(home: string, attempt: Attempt): boolean {
  return attemptFiles(home, attempt.host, attempt).local;
}

/** Returns the job as it ended, or null when it was purged while being followed. */
export async function followJob(store: Store, params: FollowParams): Promise<Job | null> {
  const output = lineKeepingSink(params.sink, params.endsLines ?? (() => true));
  let attempt = params.attempt ?? (await waitForNextAttempt(store, { jobId: params.jobId, afterToken: -1 }));
  while (attempt !== null) {
    const files = attemptFiles(params.home, params.host, attempt);
    const shown = { stdout: 0, stderr: 0 };
    const sink = (stream: LogStream, chunk: Uint8Array) => {
      shown[stream] += chunk.length;
      output.sink(stream, chunk);
    };
    let finished = attempt;
    if (attempt.finished_at === null) {
      finished = await followAttempt(store, { files, attempt, streams: params.streams, sink });
    } else if (filesReadableHere(params.home, attempt)) dumpAttempt(files, params.streams, sink);
    // Files out of reach: the store keeps the last few KB, printed once the attempt ended.
    if (!filesReadableHere(params.home, finished) && finished.output_tail)
      sink("stdout", new TextEncoder().encode(finished.output_tail));
    output.endLines();
    params.onAttemptEnd(finished, shown);
    attempt = await waitForNextAttempt(store, { jobId: params.jobId, afterToken: finished.token });
  }
  return store.jobGet({ id: params.jobId });
}
