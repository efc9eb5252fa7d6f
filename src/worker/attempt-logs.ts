/**
 * Finding an attempt's output for `queuectl logs`: which attempt, where its files are,
 * and following them while it runs. Files live on the host that ran the attempt; from
 * any other host only the tail kept in the store is available.
 */

import type { Attempt } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { attemptLogBase, type LogStream, logFilePath } from "./log-files.ts";
import { dumpLog, LogFollower, logExists } from "./log-reader.ts";

export type LogSink = (stream: LogStream, chunk: Uint8Array) => void;

/** How often `--follow` looks for new output and for the attempt's end. */
const FOLLOW_EVERY_MS = 150;

/**
 * The attempt numbered `number` (the latest run with that number, since `dlq retry`
 * starts numbering again), or the latest attempt when `number` is undefined.
 */
export function pickAttempt(attempts: Attempt[], number: number | undefined): Attempt | undefined {
  const ordered = [...attempts].sort((a, b) => a.token - b.token);
  if (number === undefined) return ordered.at(-1);
  return ordered.filter((attempt) => attempt.attempt === number).at(-1);
}

export interface AttemptFiles {
  /** The files' stem relative to QUEUECTL_HOME, as the worker named them. */
  base: string;
  /** Whether the files are readable here: same host, and still on disk. */
  local: boolean;
  paths: Record<LogStream, string>;
}

export function attemptFiles(home: string, host: string, attempt: Attempt): AttemptFiles {
  // Named again from the id and token, as the worker named them, never read from the stored
  // `log_path`: a row anyone with write access to the store (or an imported file) could set
  // would otherwise make `logs` and the dashboard read any `.out` file this user can.
  const base = attemptLogBase(attempt.job_id, attempt.token);
  const paths = { stdout: logFilePath(home, base, "stdout"), stderr: logFilePath(home, base, "stderr") };
  // A running attempt may not have created its files yet, and one that printed nothing never
  // does (files are created on first output).
  const silent = attempt.finished_at !== null && attempt.stdout_bytes === 0 && attempt.stderr_bytes === 0;
  const onDisk = attempt.finished_at === null || silent || logExists(paths.stdout) || logExists(paths.stderr);
  return { base, local: attempt.host === host && onDisk, paths };
}

export function dumpAttempt(files: AttemptFiles, streams: LogStream[], sink: LogSink): void {
  for (const stream of streams) dumpLog(files.paths[stream], (chunk) => sink(stream, chunk));
}

/** The attempt as the store has it now (to see when it finishes). */
async function reload(store: Store, attempt: Attempt): Promise<Attempt> {
  const attempts = await store.attemptList({ jobId: attempt.job_id });
  return attempts.find((candidate) => candidate.token === attempt.token) ?? attempt;
}

/**
 * Streams the files as they grow until the attempt has finished and everything written
 * was passed on. Returns the attempt as finally recorded.
 */
export async function followAttempt(
  store: Store,
  params: {
    files: AttemptFiles;
    attempt: Attempt;
    streams: LogStream[];
    sink: LogSink;
    signal?: AbortSignal;
  },
): Promise<Attempt> {
  const followers = params.streams.map((stream) => ({
    stream,
    follower: new LogFollower(params.files.paths[stream]),
  }));
  let attempt = params.attempt;
  try {
    for (;;) {
      // Read the store first: output written before the attempt was recorded as finished is
      // then certain to be read below.
      attempt = await reload(store, attempt);
      for (const { stream, follower } of followers) follower.poll((chunk) => params.sink(stream, chunk));
      if (attempt.finished_at !== null || params.signal?.aborted) return attempt;
      await Bun.sleep(FOLLOW_EVERY_MS);
    }
  } finally {
    for (const { follower } of followers) follower.close();
  }
}

/** Waits for a job's first attempt to start, for `logs --follow` on a job that has not run yet. */
export async function waitForAttempt(
  store: Store,
  jobId: string,
  signal?: AbortSignal,
): Promise<Attempt | undefined> {
  while (!signal?.aborted) {
    const latest = pickAttempt(await store.attemptList({ jobId }), undefined);
    if (latest) return latest;
    await Bun.sleep(FOLLOW_EVERY_MS);
  }
  return undefined;
}
