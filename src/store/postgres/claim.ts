/**
 * Claiming on PostgreSQL. SQLite serializes claimers with `BEGIN IMMEDIATE`; here
 * `FOR UPDATE SKIP LOCKED` lets concurrent claimers on every host each lock a different
 * row instead of queueing behind one, and the ORDER BY matches the partial index
 * `jobs_claim`, so the lock is taken while walking the index rather than after a sort.
 *
 * Queue limits need more: two claimers skipping each other's rows could both take the
 * last free slot of a queue. So the fast path claims only in queues with no limit or pause,
 * in one statement; a job in a limited queue is claimed on the slow path, which locks that
 * queue's row first (serializing its claimers) and counts its running jobs after the lock.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { DUE_WINDOW, earlier, earliestServed, MAX_PRIORITIES_SEEN, type WaitingJob } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/** Limited queues tried per claim before giving up until the next poll. */
const MAX_LIMITED_QUEUES = 50;

export async function claimJob(sql: SQL, params: JobClaimParams): Promise<Job | null> {
  const queues = params.queues ?? null;
  const skipped: string[] = [];
  for (let round = 0; round <= MAX_LIMITED_QUEUES; round++) {
    // The data-modifying CTEs share one snapshot, so the attempt row is built from `claimed`.
    const [row] = await sql`
      WITH next AS (
        SELECT seq, queue FROM jobs
        WHERE state IN ('pending', 'failed') AND NOT blocked AND next_run_at <= ${params.now}::bigint
          AND (${queues}::text[] IS NULL OR queue = ANY(${queues}::text[]))
          AND queue <> ALL(${skipped}::text[])
          AND queue NOT IN (
            SELECT name FROM queues
            WHERE paused OR (concurrency IS NOT NULL AND concurrency <= (
              SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
        ORDER BY priority DESC, next_run_at, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      ), gate AS (
        SELECT next.seq, next.queue,
               EXISTS (SELECT 1 FROM queues q WHERE q.name = next.queue AND (q.paused OR q.concurrency IS NOT NULL))
                 AS limited
        FROM next
      ), claimed AS (
        UPDATE jobs SET state = 'processing', attempts = jobs.attempts + 1, token = jobs.token + 1,
                        worker_id = ${params.workerId}, lease_until = ${params.now + params.leaseMs}::bigint,
                        started_at = ${params.now}::bigint, updated_at = ${params.now}::bigint, finished_at = NULL,
                        kill_requested = NULL
        FROM gate WHERE jobs.seq = gate.seq AND NOT gate.limited
        RETURNING jobs.*
      ), recorded AS (
        INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision)
        SELECT id, token, attempts, worker_id, ${params.host}, ${params.now}::bigint, revision FROM claimed
      )
      SELECT gate.queue, gate.limited, to_jsonb(claimed.*) AS job
      FROM gate LEFT JOIN claimed ON claimed.seq = gate.seq`;
    if (!row) return null;
    if (!row.limited) return rowToJob(row.job);
    const job = await claimInLimitedQueue(sql, String(row.queue), params);
    if (job) return job;
    skipped.push(String(row.queue));
  }
  return null;
}

async function claimInLimitedQueue(sql: SQL, queue: string, params: JobClaimParams): Promise<Job | null> {
  return sql.begin(async (tx) => {
    const [limits] = await tx`SELECT paused, concurrency FROM queues WHERE name = ${queue} FOR UPDATE`;
    if (limits?.paused) return null;
    if (limits && limits.concurrency !== null) {
      const [running] =
        await tx`SELECT COUNT(*) AS n FROM jobs WHERE queue = ${queue} AND state = 'processing'`;
      if (Number(running?.n) >= Number(limits.concurrency)) return null;
    }
    const [row] = await tx`
      WITH next AS (
        SELECT seq FROM jobs
        WHERE state IN ('pending', 'failed') AND NOT blocked AND next_run_at <= ${params.now}::bigint
          AND queue = ${queue}
        ORDER BY priority DESC, next_run_at, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE jobs SET state = 'processing', attempts = jobs.attempts + 1, token = jobs.token + 1,
                        worker_id = ${params.workerId}, lease_until = ${params.now + params.leaseMs}::bigint,
                        started_at = ${params.now}::bigint, updated_at = ${params.now}::bigint, finished_at = NULL,
                        kill_requested = NULL
        FROM next WHERE jobs.seq = next.seq
        RETURNING jobs.*
      ), recorded AS (
        INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision)
        SELECT id, token, attempts, worker_id, ${params.host}, ${params.now}::bigint, revision FROM claimed
      )
      SELECT * FROM claimed`;
    return row ? rowToJob(row) : null;
  });
}

/** Store.jobNextDueAt on PostgreSQL: the skip-scan of sqlite/claim.ts over the same index. */
export async function nextDueAt(sql: SQL, params: JobNextDueParams): Promise<number | null> {
  const paused = new Set(
    ((await sql`SELECT name FROM queues WHERE paused`) as Row[]).map((row) => String(row.name)),
  );
  let due: number | null = null;
  // Two statements, not one with `IS NULL OR priority < $1`: a prepared statement's generic
  // plan could not seek with that and read every waiting job.
  let [top]: Row[] = await sql`
    SELECT MAX(priority) AS p FROM jobs WHERE state IN ('pending', 'failed') AND NOT blocked`;
  for (let step = 0; step < MAX_PRIORITIES_SEEN && top?.p !== null && top?.p !== undefined; step++) {
    const priority = Number(top.p);
    const window: WaitingJob[] = await sql`
      SELECT next_run_at, queue FROM jobs
      WHERE state IN ('pending', 'failed') AND NOT blocked AND priority = ${priority}::int
        AND next_run_at > ${params.after}::bigint
      ORDER BY priority DESC, next_run_at LIMIT ${DUE_WINDOW}`;
    due = earlier(due, earliestServed(window, params.queues, paused));
    [top] = await sql`
      SELECT MAX(priority) AS p FROM jobs
      WHERE state IN ('pending', 'failed') AND NOT blocked AND priority < ${priority}::int`;
  }
  return due;
}
