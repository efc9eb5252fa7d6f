/**
 * Bulk insert of new jobs. SQLite runs prepared INSERTs inside its transaction at in-process
 * speed; over a network that would be one round trip per job, so here each batch of jobs
 * travels as column arrays and `unnest` turns them back into rows, or, for a streamed
 * input, as CSV through COPY.
 * `WITH ORDINALITY … ORDER BY` keeps the identity `seq` in input order (FIFO).
 */

import type { SQL } from "bun";
import { claimantIds } from "../../core/occurrence-id.ts";
import { newJobRow } from "../columns.ts";
import { duplicateIdError, firstRejected, scheduleClaimRefusal } from "../errors.ts";
import type { JobInsertParams, JobInsertStreamParams } from "../params.ts";
import type { NewJob, NewJobRow } from "../records.ts";
import { lockDependenciesExclusive, setDependencies } from "./dependencies.ts";

/** Rows per statement: large enough to amortize the round trip, small enough to stay in memory. */
export const INSERT_BATCH = 1000;

/**
 * Inserts `jobs` as pending and returns the ids that went in. An id that already exists,
 * or that appears twice in the batch, is skipped (ON CONFLICT DO NOTHING); the caller
 * decides whether that is an error.
 */
export async function insertNewJobs(tx: SQL, jobs: NewJob[], now: number): Promise<Set<string>> {
  const rows = jobs.map((job) => newJobRow(job));
  const inserted = await tx`
    INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                      next_run_at, source, declared)
    SELECT id, spec::jsonb, revision, 'pending', max_retries, priority, queue, tags::jsonb, ${now}::bigint,
           ${now}::bigint, next_run_at, source, source IS NOT NULL
    FROM unnest(${rows.map((row) => row.id)}::text[],
                ${rows.map((row) => row.specText)}::text[],
                ${rows.map((row) => row.revision)}::text[],
                ${rows.map((row) => row.maxRetries)}::int[],
                ${rows.map((row) => row.priority)}::int[],
                ${rows.map((row) => row.queue)}::text[],
                ${rows.map((row) => row.tagsText)}::text[],
                ${rows.map((row) => row.nextRunAt)}::bigint[],
                ${rows.map((row) => row.source)}::text[])
         WITH ORDINALITY AS u(id, spec, revision, max_retries, priority, queue, tags, next_run_at, source, ord)
    ORDER BY ord
    ON CONFLICT (id) DO NOTHING
    RETURNING id`;
  return new Set(inserted.map((row: { id: string }) => row.id));
}

/**
 * A job may take neither a schedule's id nor one of its occurrence ids; like the unique key
 * on jobs.id, this is checked inside the insert's transaction, before any row of the batch.
 */
async function refuseScheduleClaims(tx: SQL, ids: string[]): Promise<void> {
  const rows = (await tx`SELECT id FROM schedules WHERE id = ANY(${claimantIds(ids)}::text[])`) as {
    id: string;
  }[];
  if (rows.length === 0) return;
  const refusal = scheduleClaimRefusal(ids, new Set(rows.map((row) => row.id)));
  if (refusal) throw refusal;
}

/**
 * All or nothing inside the caller's transaction; a duplicate id, or one a schedule claims,
 * throws a UserError naming it.
 */
export async function insertJobs(tx: SQL, schema: string, params: JobInsertParams): Promise<void> {
  const withDependencies = params.jobs.filter((job) => job.spec.after);
  if (withDependencies.length > 0) await lockDependenciesExclusive(tx, schema);
  for (let start = 0; start < params.jobs.length; start += INSERT_BATCH) {
    const batch = params.jobs.slice(start, start + INSERT_BATCH);
    await refuseScheduleClaims(
      tx,
      batch.map((job) => job.spec.id),
    );
    const inserted = await insertNewJobs(tx, batch, params.now);
    const rejected = firstRejected(
      batch.map((job) => job.spec.id),
      inserted,
    );
    if (rejected !== undefined) throw duplicateIdError(rejected);
    params.onProgress?.(Math.min(start + INSERT_BATCH, params.jobs.length));
  }
  if (params.jobs.length === 0) params.onProgress?.(0);
  // Dependencies are recorded after every row exists, so a batch may list a pipeline in any order.
  for (const job of withDependencies) await setDependencies(tx, job.spec.id, job.spec.after, params.now);
}

/**
 * Inserts jobs as they stream in, inside the caller's transaction, each batch with one
 * `COPY … FROM STDIN`: rows travel as CSV text and the server parses them in bulk. COPY
 * cannot skip a row, so an id already stored, or repeated, fails the COPY (and with it the
 * transaction), and the id is read from the server's error.
 */
export async function insertJobStream(
  tx: SQL,
  schema: string,
  params: JobInsertStreamParams,
): Promise<number> {
  // Only ids and `after` lists are kept past their batch.
  const withDependencies: [id: string, after: readonly string[]][] = [];
  let done = 0;
  for await (const jobs of params.batches) {
    if (jobs.length === 0) continue;
    await refuseScheduleClaims(
      tx,
      jobs.map((job) => job.id),
    );
    await copyJobs(tx, jobs, params.now);
    for (const job of jobs) if (job.after) withDependencies.push([job.id, job.after]);
    done += jobs.length;
    params.onProgress?.(done);
  }
  // Dependencies once every row exists, so the input may list a pipeline in any order.
  if (withDependencies.length > 0) await lockDependenciesExclusive(tx, schema);
  for (const [id, after] of withDependencies) await setDependencies(tx, id, after, params.now);
  return done;
}

async function copyJobs(tx: SQL, jobs: NewJobRow[], now: number): Promise<void> {
  const rows = jobs.map((job) =>
    [
      csvText(job.id),
      csvText(job.specText),
      csvText(job.revision),
      "pending",
      job.maxRetries,
      job.priority,
      csvText(job.queue),
      csvText(job.tagsText),
      now,
      now,
      job.nextRunAt,
      job.source === null ? "" : csvText(job.source),
      job.source === null ? "f" : "t",
    ].join(","),
  );
  const writer = tx`
    COPY jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
               next_run_at, source, declared)
    FROM STDIN (FORMAT csv)`
    .writable()
    .getWriter();
  try {
    await writer.write(`${rows.join("\n")}\n`);
    await writer.close();
  } catch (error) {
    const taken = /^Key \(id\)=\((.*)\) already exists\.$/s.exec(
      String((error as { detail?: unknown }).detail ?? ""),
    );
    if ((error as { errno?: unknown }).errno === "23505" && taken?.[1] !== undefined)
      throw duplicateIdError(taken[1]);
    throw error;
  }
}

/** A CSV field that is text, never NULL: quoted, with quotes doubled. */
function csvText(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}
