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
import { MAX_QUEUES_WALKED, namedQueuesWalked } from "../claim-route.ts";
import { DUE_WINDOW, type DueAnswer, type DueRead, nextDueReads, type WaitingJob } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/**
 * The jobs a claim may take, best first, as the CTE `candidates(seq, queue)`: a walk of
 * jobs_claim in claim order, or each queue of a few walked in jobs_queue_claim and the best
 * of their heads (claim-route.ts decides; the branch whose one-time condition fails does not
 * run). Each walk locks what it reads with SKIP LOCKED.
 *
 * Written once for both claims here, so it reads its inputs from CTEs the statement defines
 * before it: `params(walked, queues, now, lim)` (walked: the named queues to walk one by one,
 * from namedQueuesWalked, or null; queues: the worker's named queues or null; lim: the most to take) and
 * `limited(name)`, the queues it must not take from. With no queue named, it walks every
 * queue with waiting jobs one by one while any queue is paused or limited and at most
 * MAX_QUEUES_WALKED have waiting jobs, found by a skip-scan of jobs_queue_claim; those facts
 * are read here, in the claim's own statement, so that a round stays one round trip.
 */
export const CLAIM_CANDIDATES = `
  present(queue) AS (
    (SELECT queue FROM jobs WHERE state IN ('pending', 'failed') AND NOT blocked ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT queue FROM jobs WHERE state IN ('pending', 'failed') AND NOT blocked AND queue > present.queue
            ORDER BY queue LIMIT 1)
    FROM present WHERE present.queue IS NOT NULL
  ), capped AS (
    SELECT queue FROM present
    WHERE queue IS NOT NULL AND (SELECT walked IS NULL AND queues IS NULL FROM params)
      AND EXISTS (SELECT 1 FROM queues WHERE paused OR concurrency IS NOT NULL)
    LIMIT ${MAX_QUEUES_WALKED + 1}
  ), route AS (
    SELECT (SELECT walked IS NOT NULL FROM params)
           OR (SELECT COUNT(*) FROM capped) BETWEEN 1 AND ${MAX_QUEUES_WALKED} AS by_queue
  ), served(name) AS (
    SELECT DISTINCT unnest(walked) FROM params
    UNION ALL
    SELECT queue FROM capped WHERE (SELECT by_queue FROM route)
  ), walk AS (
    SELECT seq, queue FROM jobs
    WHERE NOT (SELECT by_queue FROM route) AND state IN ('pending', 'failed') AND NOT blocked
      AND next_run_at <= (SELECT now FROM params)
      AND ((SELECT queues FROM params) IS NULL OR queue = ANY((SELECT queues FROM params)::text[]))
      AND queue NOT IN (SELECT name FROM limited)
    ORDER BY priority DESC, next_run_at, seq
    LIMIT (SELECT lim FROM params)
    FOR UPDATE SKIP LOCKED
  ), by_queue AS (
    SELECT waiting.seq, served.name AS queue FROM served CROSS JOIN LATERAL (
      SELECT seq, priority, next_run_at FROM jobs
      WHERE queue = served.name AND state IN ('pending', 'failed') AND NOT blocked
        AND next_run_at <= (SELECT now FROM params)
      ORDER BY priority DESC, next_run_at, seq
      LIMIT (SELECT lim FROM params)
      FOR UPDATE SKIP LOCKED) AS waiting
    WHERE served.name NOT IN (SELECT name FROM limited)
    ORDER BY waiting.priority DESC, waiting.next_run_at, waiting.seq
    LIMIT (SELECT lim FROM params)
  ), candidates AS (
    SELECT seq, queue FROM walk UNION ALL SELECT seq, queue FROM by_queue
  )`;

/** Limited queues tried per claim before giving up until the next poll. */
const MAX_LIMITED_QUEUES = 50;

export async function claimJob(sql: SQL, params: JobClaimParams): Promise<Job | null> {
  const queues = params.queues ?? null;
  const walked = namedQueuesWalked(queues);
  const skipped: string[] = [];
  for (let round = 0; round <= MAX_LIMITED_QUEUES; round++) {
    // The data-modifying CTEs share one snapshot, so the attempt row is built from `claimed`.
    const [row] = await sql`
      WITH RECURSIVE params AS (
        SELECT ${walked}::text[] AS walked, ${queues}::text[] AS queues, ${params.now}::bigint AS now, 1 AS lim
      ), limited(name) AS (
        SELECT unnest(${skipped}::text[])
        UNION ALL
        SELECT name FROM queues
        WHERE paused OR (concurrency IS NOT NULL AND concurrency <= (
          SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing'))
      ), ${sql.unsafe(CLAIM_CANDIDATES)}, next AS (
        SELECT seq, queue FROM candidates LIMIT 1
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

/** Store.jobNextDueAt on PostgreSQL: the reads of next-due.ts, over the same indexes as on SQLite. */
export async function nextDueAt(sql: SQL, params: JobNextDueParams): Promise<number | null> {
  const paused = new Set(
    ((await sql`SELECT name FROM queues WHERE paused`) as Row[]).map((row) => String(row.name)),
  );
  const reads = nextDueReads(params.queues, paused);
  let step = reads.next();
  while (!step.done) step = reads.next(await answerDueRead(sql, step.value, params.after));
  return step.value;
}

/**
 * One read of next-due.ts. Separate statements for the first priority and the next one
 * below: with `IS NULL OR priority < $1`, a prepared statement's generic plan could not seek
 * and read every waiting job. In one queue, ORDER BY … LIMIT 1 rather than MAX(): with no
 * statistics, MAX() was planned as an aggregate over every lower-priority job of the queue.
 */
async function answerDueRead(sql: SQL, ask: DueRead, after: number): Promise<DueAnswer> {
  const waiting = sql.unsafe("state IN ('pending', 'failed') AND NOT blocked");
  if (ask.read === "window") {
    return (await sql`
      SELECT next_run_at, queue FROM jobs
      WHERE ${waiting} AND priority = ${ask.priority}::int AND next_run_at > ${after}::bigint
      ORDER BY priority DESC, next_run_at LIMIT ${DUE_WINDOW}`) as WaitingJob[];
  }
  const [row]: Row[] =
    ask.read === "earliest"
      ? await sql`
          SELECT next_run_at AS n FROM jobs
          WHERE queue = ${ask.queue} AND ${waiting} AND priority = ${ask.priority}::int AND next_run_at > ${after}::bigint
          ORDER BY priority DESC, next_run_at LIMIT 1`
      : ask.queue === null
        ? ask.below === null
          ? await sql`SELECT MAX(priority) AS n FROM jobs WHERE ${waiting}`
          : await sql`SELECT MAX(priority) AS n FROM jobs WHERE ${waiting} AND priority < ${ask.below}::int`
        : ask.below === null
          ? await sql`SELECT priority AS n FROM jobs WHERE queue = ${ask.queue} AND ${waiting} ORDER BY priority DESC LIMIT 1`
          : await sql`
              SELECT priority AS n FROM jobs WHERE queue = ${ask.queue} AND ${waiting} AND priority < ${ask.below}::int
              ORDER BY priority DESC LIMIT 1`;
  return row?.n === null || row?.n === undefined ? null : Number(row.n);
}
