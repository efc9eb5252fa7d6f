/**
 * The column values both backends derive from a job the same way when they write its row:
 * what its spec leaves out defaults here, once.
 */

import type { JobSpec } from "../core/spec.ts";
import type { JobRecord } from "./records.ts";

/** The spec's fields the jobs table keeps in columns of their own, for indexes and filters. */
export function specColumns(spec: JobSpec): { priority: number; queue: string; tags: string } {
  return {
    priority: spec.priority ?? 0,
    queue: spec.queue ?? "default",
    tags: JSON.stringify(spec.tags ?? []),
  };
}

/** A job's fencing token must stay above every imported attempt's, or its next claim collides. */
export function lastToken(job: JobRecord): number {
  return job.attempt_history.reduce((max, attempt) => Math.max(max, attempt.token), 0);
}
