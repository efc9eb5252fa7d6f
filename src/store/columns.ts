/**
 * The column values both backends derive from a job the same way when they write its row:
 * what its spec leaves out defaults here, once.
 */

import type { JobRecord } from "./records.ts";

/** A job's fencing token must stay above every imported attempt's, or its next claim collides. */
export function lastToken(job: JobRecord): number {
  return job.attempt_history.reduce((max, attempt) => Math.max(max, attempt.token), 0);
}
