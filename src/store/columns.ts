/**
 * The column values both backends derive from a job the same way when they write its row:
 * what its spec leaves out defaults here, once.
 */

import { specColumns } from "../core/spec.ts";
import type { JobRecord, NewJob, NewJobRow } from "./records.ts";

/**
 * The row a new job is written as: its spec's defaults filled in, its spec as JSON, or as
 * `specText` when the caller already holds exactly what JSON.stringify writes for it.
 */
export function newJobRow(job: NewJob, specText?: string): NewJobRow {
  const { spec } = job;
  const { priority, queue, tags } = specColumns(spec);
  return {
    id: spec.id,
    specText: specText ?? JSON.stringify(spec),
    revision: job.revision,
    maxRetries: job.maxRetries,
    priority,
    queue,
    tagsText: tags,
    nextRunAt: job.nextRunAt,
    source: job.source,
    after: spec.after,
  };
}

/** A job's fencing token must stay above every imported attempt's, or its next claim collides. */
export function lastToken(job: JobRecord): number {
  return job.attempt_history.reduce((max, attempt) => Math.max(max, attempt.token), 0);
}
