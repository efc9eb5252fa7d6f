/**
 * The output of an attempt that is still running. The store keeps an attempt's tail only
 * once it ends, but the worker writes the log files as the job prints, so a dashboard on
 * the same host reads their tails the way `queuectl logs` does (attempt-logs.ts and the
 * log reader, across rotations). Another host's running attempt has no files here; its
 * output shows once it ends.
 */

import type { Attempt } from "../core/job.ts";
import { attemptFiles, dumpAttempt } from "../worker/attempt-logs.ts";
import { TailBuffer } from "../worker/capped-log.ts";
import { type LogStream, OUTPUT_TAIL_BYTES } from "../worker/log-files.ts";

export interface LiveOutputSource {
  /** QUEUECTL_HOME, where this host's log files are. */
  home: string;
  /** This host's name, as workers record it on their attempts. */
  host: string;
}

/**
 * The last OUTPUT_TAIL_BYTES of stdout, then those of stderr: the files keep the streams
 * apart, so their interleaving is lost (the stored tail of a finished attempt keeps it).
 * Null when the attempt has ended or ran on another host.
 */
export function liveOutputTail(source: LiveOutputSource, attempt: Attempt): string | null {
  if (attempt.finished_at !== null || attempt.host !== source.host) return null;
  const files = attemptFiles(source.home, source.host, attempt);
  if (!files.local) return null;
  const tails: Record<LogStream, TailBuffer> = {
    stdout: new TailBuffer(OUTPUT_TAIL_BYTES),
    stderr: new TailBuffer(OUTPUT_TAIL_BYTES),
  };
  dumpAttempt(files, ["stdout", "stderr"], (stream, chunk) => tails[stream].push(chunk));
  return tails.stdout.text() + tails.stderr.text();
}
