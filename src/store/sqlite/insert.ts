/** Inserting new jobs: the column values of a row, shared by plain enqueue and jobfile apply. */

import type { Database } from "bun:sqlite";
import { DuplicateIdError } from "../../core/errors.ts";
import type { NewJob } from "../store.ts";
import { setDependencies } from "./dependencies.ts";

export function insertValues(job: NewJob, now: number): (string | number | null)[] {
  return [
    job.spec.id,
    JSON.stringify(job.spec),
    job.revision,
    job.maxRetries,
    job.spec.priority ?? 0,
    job.spec.queue ?? "default",
    JSON.stringify(job.spec.tags ?? []),
    now,
    now,
    job.nextRunAt,
    job.source,
    job.source === null ? 0 : 1,
  ];
}

export function duplicateIdError(id: string): DuplicateIdError {
  return new DuplicateIdError(
    id,
    `job id "${id}" already exists`,
    "choose another id, or run it again with `queuectl rerun <id>`; nothing was enqueued",
  );
}

/**
 * Inserts new pending jobs inside the caller's transaction; the first id already stored
 * throws. Jobs with dependencies are returned rather than linked, because a batch may list a
 * pipeline in any order: `linkDependencies` runs once every row of the input exists.
 */
export function insertJobRows(db: Database, jobs: Iterable<NewJob>, now: number): NewJob[] {
  const insert = db.query(`
    INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                      next_run_at, source, declared)
    VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING`);
  const withDependencies: NewJob[] = [];
  for (const job of jobs) {
    if (insert.run(...insertValues(job, now)).changes === 0) throw duplicateIdError(job.spec.id);
    if (job.spec.after) withDependencies.push(job);
  }
  return withDependencies;
}

export function linkDependencies(db: Database, jobs: NewJob[], now: number): void {
  for (const job of jobs) setDependencies(db, job.spec.id, job.spec.after, now);
}
