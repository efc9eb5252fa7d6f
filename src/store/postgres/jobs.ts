/**
 * Jobs in and out of the PostgreSQL store: bulk insert, reads, and state transitions, with
 * the semantics of the SQLite store. The claim and a run's outcomes live in claim.ts and run.ts.
 */

import type { SQL } from "bun";
import { emptyStateCounts, type Job, type JobState, type StateCounts } from "../../core/job.ts";
import { rowToAttempt, rowToJob } from "../rows.ts";
import { duplicateIdError } from "../sqlite/insert.ts";
import type { NewJob } from "../store.ts";
import {
  cancelDependents,
  lockDependenciesExclusive,
  refuseIfDependencyEnded,
  setDependencies,
} from "./dependencies.ts";
import { firstRejected, INSERT_BATCH, insertNewJobs } from "./insert.ts";
import { pgText } from "./run.ts";

type Row = Record<string, unknown>;

/** All or nothing inside the caller's transaction; a duplicate id throws a UserError naming it. */
export async function insertJobs(
  tx: SQL,
  schema: string,
  params: { jobs: NewJob[]; now: number; onProgress?: (done: number) => void },
): Promise<void> {
  const withDependencies = params.jobs.filter((job) => job.spec.after);
  if (withDependencies.length > 0) await lockDependenciesExclusive(tx, schema);
  for (let start = 0; start < params.jobs.length; start += INSERT_BATCH) {
    const batch = params.jobs.slice(start, start + INSERT_BATCH);
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

export async function getJob(sql: SQL, id: string): Promise<Job | null> {
  const [row] = await sql`SELECT * FROM jobs WHERE id = ${id}`;
  return row ? rowToJob(row) : null;
}

/** Insertion order; absent filters do not filter, and no limit means every row. */
export async function listJobs(
  sql: SQL,
  params: { state?: JobState; tag?: string; queue?: string; limit?: number; offset?: number },
): Promise<Job[]> {
  const state = params.state ?? null;
  const tag = params.tag ?? null;
  const queue = params.queue ?? null;
  const rows = await sql`
    SELECT * FROM jobs
    WHERE (${state}::text IS NULL OR state = ${state}::text)
      AND (${tag}::text IS NULL OR tags @> jsonb_build_array(${tag}::text))
      AND (${queue}::text IS NULL OR queue = ${queue}::text)
    ORDER BY seq LIMIT ${params.limit ?? null}::bigint OFFSET ${params.offset ?? 0}::bigint`;
  return (rows as Row[]).map(rowToJob);
}

export async function countJobs(sql: SQL): Promise<StateCounts> {
  const counts = emptyStateCounts();
  for (const row of await sql`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`) {
    counts[row.state as JobState] = Number(row.n);
    counts.total += Number(row.n);
  }
  return counts;
}

export async function listAttempts(sql: SQL, jobId: string) {
  return ((await sql`SELECT * FROM attempts WHERE job_id = ${jobId} ORDER BY token`) as Row[]).map(
    rowToAttempt,
  );
}

/**
 * Moves jobs in `from` to `to` and, as SQLite does, cancels their dependents (to canceled)
 * or re-arms the jobs they canceled (to pending).
 */
export async function transitionJobs(
  tx: SQL,
  schema: string,
  params: {
    id?: string;
    from: readonly JobState[];
    to: "pending" | "canceled";
    resetAttempts: boolean;
    now: number;
    reason?: string;
  },
): Promise<Job[]> {
  const id = params.id ?? null;
  const reason = pgText(params.reason ?? null);
  await lockDependenciesExclusive(tx, schema);
  // One job queued by hand must be able to run; a bulk move lets the dependency decide instead.
  if (params.to === "pending" && params.id !== undefined)
    await refuseIfDependencyEnded(tx, params.id, params.from);
  // RETURNING has no order in PostgreSQL; SQLite returns rowid order, so sort to match.
  const rows = await tx`
    WITH moved AS (
      UPDATE jobs SET state = ${params.to}, updated_at = ${params.now}::bigint,
                      attempts = CASE WHEN ${params.resetAttempts}::boolean THEN 0 ELSE attempts END,
                      next_run_at = CASE WHEN ${params.to}::text = 'pending' THEN ${params.now}::bigint
                                         ELSE next_run_at END,
                      finished_at = CASE WHEN ${params.to}::text = 'canceled' THEN ${params.now}::bigint END,
                      last_error = CASE WHEN ${params.to}::text = 'pending' THEN NULL
                                        ELSE COALESCE(${reason}::text, last_error) END,
                      exit_code = CASE WHEN ${params.to}::text = 'pending' THEN NULL ELSE exit_code END,
                      -- Moved by hand, never because of a dependency (see sqlite/lifecycle.ts).
                      canceled_by = NULL
      WHERE (${id}::text IS NULL OR id = ${id}::text) AND state = ANY(${[...params.from]}::text[])
      RETURNING *)
    SELECT * FROM moved ORDER BY seq`;
  const moved = (rows as Row[]).map(rowToJob);
  for (const job of moved) {
    if (params.to === "canceled") {
      await cancelDependents(tx, job.id, "canceled", params.now);
    } else {
      await setDependencies(tx, job.id, job.spec.after, params.now);
    }
  }
  return moved;
}
