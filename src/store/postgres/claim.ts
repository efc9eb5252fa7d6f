/**
 * Claiming on PostgreSQL. SQLite serializes claimers with `BEGIN IMMEDIATE`; here
 * `FOR UPDATE SKIP LOCKED` lets concurrent claimers on every host each lock a different
 * row instead of queueing behind one.
 *
 * Each served queue's next jobs are a short walk of jobs_queue_claim, led by queue (migration
 * 10), as on SQLite: whatever waits in the queues a claim does not serve, and the claim takes
 * the best of those. Served queues are the worker's named ones, or else every queue with a
 * waiting job, found by a skip-scan of the same index. Each queue's walk locks the jobs it
 * reads, so a claim over several queues may hold a few it then leaves until its transaction
 * ends: other claimers pass over them meanwhile, as they pass over any locked row. (A
 * worker's batched round over every queue, when none is paused or limited, walks jobs_claim
 * instead: complete-many.ts.)
 *
 * Queue limits need more: two claimers skipping each other's rows could both take the
 * last free slot of a queue. So the fast path claims only in queues with no limit or pause,
 * in one statement; a job in a limited queue is claimed on the slow path, which locks that
 * queue's row first (serializing its claimers) and counts its running jobs after the lock.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { nextDueReads } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/**
 * `present(queue)`: every queue with a waiting job, by a skip-scan of jobs_queue_claim (one
 * seek per queue), for a claim or an idle round that serves every queue. A recursive CTE, so
 * a statement that uses it begins `WITH RECURSIVE`; it is read only when a statement names
 * no queues, and then it stops at the last one.
 */
export const PRESENT_QUEUES = `present(queue) AS (
  (SELECT queue FROM jobs WHERE state IN ('pending', 'failed') AND NOT blocked ORDER BY queue LIMIT 1)
  UNION ALL
  SELECT (SELECT queue FROM jobs WHERE state IN ('pending', 'failed') AND NOT blocked AND queue > present.queue
          ORDER BY queue LIMIT 1)
  FROM present WHERE present.queue IS NOT NULL)`;

/** Limited queues tried per claim before giving up until the next poll. */
const MAX_LIMITED_QUEUES = 50;

export async function claimJob(sql: SQL, params: JobClaimParams): Promise<Job | null> {
  const queues = params.queues ?? null;
  const skipped: string[] = [];
  for (let round = 0; round <= MAX_LIMITED_QUEUES; round++) {
    // The data-modifying CTEs share one snapshot, so the attempt row is built from `claimed`.
    const [row] = await sql`
      WITH RECURSIVE ${sql.unsafe(PRESENT_QUEUES)}, served(name) AS (
        SELECT DISTINCT unnest(${queues}::text[])
        UNION ALL
        SELECT queue FROM present WHERE queue IS NOT NULL AND ${queues}::text[] IS NULL
      ), next AS (
        SELECT waiting.seq, served.name AS queue FROM served CROSS JOIN LATERAL (
          SELECT seq, priority, next_run_at FROM jobs
          WHERE queue = served.name AND state IN ('pending', 'failed') AND NOT blocked
            AND next_run_at <= ${params.now}::bigint
          ORDER BY priority DESC, next_run_at, seq
          LIMIT 1
          FOR UPDATE SKIP LOCKED) AS waiting
        WHERE served.name <> ALL(${skipped}::text[])
          AND served.name NOT IN (
            SELECT name FROM queues
            WHERE paused OR (concurrency IS NOT NULL AND concurrency <= (
              SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
        ORDER BY waiting.priority DESC, waiting.next_run_at, waiting.seq
        LIMIT 1
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

/** Store.jobNextDueAt on PostgreSQL: the reads next-due.ts asks for, over the same index as on SQLite. */
export async function nextDueAt(sql: SQL, params: JobNextDueParams): Promise<number | null> {
  const queues = params.queues ?? null;
  const served: Row[] = await sql`
    WITH RECURSIVE ${sql.unsafe(PRESENT_QUEUES)}, served(name) AS (
      SELECT DISTINCT unnest(${queues}::text[])
      UNION ALL
      SELECT queue FROM present WHERE queue IS NOT NULL AND ${queues}::text[] IS NULL
    )
    SELECT name FROM served WHERE name NOT IN (SELECT name FROM queues WHERE paused)`;
  const reads = nextDueReads(served.map((row) => String(row.name)));
  let step = reads.next();
  while (!step.done) {
    const ask = step.value;
    // Separate statements, not one with `IS NULL OR priority < $2`: a prepared statement's
    // generic plan could not seek with that and read every waiting job of the queue.
    const [row]: Row[] =
      ask.read === "earliest"
        ? await sql`
            SELECT MIN(next_run_at) AS n FROM jobs
            WHERE queue = ${ask.queue} AND state IN ('pending', 'failed') AND NOT blocked
              AND priority = ${ask.priority}::int AND next_run_at > ${params.after}::bigint`
        : ask.below === null
          ? await sql`
              SELECT MAX(priority) AS n FROM jobs
              WHERE queue = ${ask.queue} AND state IN ('pending', 'failed') AND NOT blocked`
          : await sql`
              SELECT MAX(priority) AS n FROM jobs
              WHERE queue = ${ask.queue} AND state IN ('pending', 'failed') AND NOT blocked
                AND priority < ${ask.below}::int`;
    step = reads.next(row?.n === null || row?.n === undefined ? null : Number(row.n));
  }
  return step.value;
}
