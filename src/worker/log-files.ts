/**
 * Where an attempt's output lives: `$QUEUECTL_HOME/logs/<hash of the id>-<token>.out|.err`.
 * The raw id never becomes a file name (it may hold `/`, `..` or anything else); the
 * token is unique per claim, so every attempt gets fresh files. A stream that printed
 * nothing has no file (they are created on first output).
 *
 * A stream's file is capped by rotating it once it reaches half the cap: the older half
 * moves to `<file>.1`. Together they always hold the newest output, between half the cap
 * and the cap, so disk use stays bounded whatever the job prints.
 */

import { join } from "node:path";

/** Bytes kept per stream (stdout, stderr) and attempt: the tail survives, the rest is counted. */
export const LOG_CAP_BYTES = 10 * 1024 * 1024;

/** How much combined output the store keeps per attempt, so `logs` works from any host. */
export const OUTPUT_TAIL_BYTES = 4 * 1024;

export type LogStream = "stdout" | "stderr";

const EXTENSION: Record<LogStream, string> = { stdout: ".out", stderr: ".err" };

/** The files' common stem, relative to QUEUECTL_HOME; recorded as the attempt's `log_path`. */
export function attemptLogBase(jobId: string, token: number): string {
  const digest = new Bun.CryptoHasher("sha256").update(jobId).digest("hex").slice(0, 32);
  return join("logs", `${digest}-${token}`);
}

export function logFilePath(home: string, base: string, stream: LogStream): string {
  return join(home, `${base}${EXTENSION[stream]}`);
}

/** The older half of a rotated log. */
export function rotatedPath(path: string): string {
  return `${path}.1`;
}
