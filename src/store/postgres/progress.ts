/**
 * What running jobs report back, for the PostgreSQL backend: progress while they run and the
 * result they leave, fenced like a result (token and `processing`) as on SQLite.
 */

import type { SQL } from "bun";
import type {
  JobProgressSaveParams,
  JobResultSaveParams,
  JobResultsParams,
  ProgressUpdate,
} from "../params.ts";
import type { JobResult } from "../records.ts";

type Row = Record<string, unknown>;

/** Saves each update whose attempt still holds its job, in one statement; returns how many did. */
export async function jobProgressSave(tx: SQL, params: JobProgressSaveParams): Promise<number> {
  if (params.updates.length === 0) return 0;
  const column = <T>(pick: (update: ProgressUpdate) => T): T[] => params.updates.map(pick);
  // Rows are locked in id order, as renewals and completion rounds lock a worker's jobs
  // (run.ts). The periodic save skips a row another transaction holds (skipLocked): its
  // progress waits for the job's next report, where a save queued behind the lock would hold
  // one of the worker's two connections while the job runs. The last save, as the attempt
  // ends, waits like the result's.
  const rows = await tx`
    WITH u AS (
      SELECT * FROM unnest(${column((u) => u.id)}::text[], ${column((u) => u.token)}::int[],
                           ${column((u) => u.pct)}::int[], ${column((u) => u.message)}::text[]) AS u(id, token, pct, message)
    ), locked AS (
      SELECT jobs.id FROM jobs JOIN u ON jobs.id = u.id AND jobs.token = u.token
      WHERE jobs.state = 'processing' ORDER BY jobs.id FOR UPDATE OF jobs ${tx.unsafe(params.skipLocked ? "SKIP LOCKED" : "")}
    )
    UPDATE jobs SET progress_pct = u.pct, progress_message = u.message
    FROM u JOIN locked ON locked.id = u.id
    WHERE jobs.id = u.id AND jobs.token = u.token AND jobs.state = 'processing'
    RETURNING jobs.id`;
  return (rows as Row[]).length;
}

/** Stores (or, with null, clears) the result of the attempt `token`, before that attempt is recorded. */
export async function jobResultSave(tx: SQL, params: JobResultSaveParams): Promise<boolean> {
  const rows = await tx`
    UPDATE jobs SET result = ${params.result}
    WHERE id = ${params.id} AND token = ${params.token} AND state = 'processing'
    RETURNING id`;
  return (rows as Row[]).length > 0;
}

/** The stored results of `ids`; ids that do not exist are left out. */
export async function jobResults(sql: SQL, params: JobResultsParams): Promise<JobResult[]> {
  const rows = await sql`SELECT id, result FROM jobs WHERE id = ANY(${params.ids}::text[])`;
  return (rows as Row[]).map((row) => ({
    id: String(row.id),
    result: row.result === null ? null : String(row.result),
  }));
}
