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
  /** A line for the reader on stderr, such as "(attempt 2: exit 7)". */
  onAttemptEnd: (attempt: Attempt) => void;
}

/** Returns the job as it ended, or null when it was purged while being followed. */
export async function followJob(store: Store, params: FollowParams): Promise<Job | null> {
  let attempt = params.attempt ?? (await waitForNextAttempt(store, { jobId: params.jobId, afterToken: -1 }));
  while (attempt !== null) {
    const files = attemptFiles(params.home, params.host, attempt);
    let finished = attempt;
    if (attempt.finished_at === null) {
      finished = await followAttempt(store, { files, attempt, streams: params.streams, sink: params.sink });
    } else if (files.local) dumpAttempt(files, params.streams, params.sink);
    // Another host ran it: its files are there, and the store keeps the last few KB.
    if (!files.local && finished.output_tail)
      params.sink("stdout", new TextEncoder().encode(finished.output_tail));
    params.onAttemptEnd(finished);
    attempt = await waitForNextAttempt(store, { jobId: params.jobId, afterToken: finished.token });
  }
  return store.jobGet({ id: params.jobId });
}
