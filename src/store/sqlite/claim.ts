/**
 * Claiming on SQLite. Claims rely on SQLite's single writer: the caller's `BEGIN IMMEDIATE`
 * takes the write lock first, so the `UPDATE … WHERE seq = (SELECT … LIMIT 1) RETURNING`
 * cannot race another claimer. PostgreSQL reaches the same guarantee with
 * `FOR UPDATE SKIP LOCKED` (see its claim.ts).
 *
 * The claim index is led by queue (migration 10): each served queue's next job is one seek,
 * however many jobs wait in queues the claim does not serve, and the claim takes the best of
 * those few. Served queues are the worker's named ones, or else every queue with a waiting
 * job, found by a skip-scan of the same index; paused queues and queues at their limit are
 * left out inside the write lock, so no two claims can both take the last free slot.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { nextDueReads } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/** Waiting jobs a claim could take once due; the partial index jobs_queue_claim holds exactly these. */
const WAITING = "state IN ('pending', 'failed') AND blocked = 0";

/**
 * Every queue with a waiting job, by a skip-scan: one seek per queue, about 2 µs for one
 * queue. (INDEXED BY throughout: left alone, the planner has preferred jobs_state and sorted
 * every candidate, about 70 claims/s on a 100k-job table instead of thousands.)
 */
const PRESENT_QUEUES = `
  WITH RECURSIVE present(queue) AS (
    SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_queue_claim WHERE ${WAITING})
    UNION ALL
    SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_queue_claim WHERE ${WAITING} AND queue > present.queue)
    FROM present WHERE present.queue IS NOT NULL)
  SELECT queue AS name FROM present WHERE queue IS NOT NULL`;

/** The served queues of a claim, `?4` as a JSON array. */
const NAMED_QUEUES = "SELECT DISTINCT value AS name FROM json_each(?4)";

/** One served queue, `?4`: a worker's usual case, without the JSON. */
const ONE_QUEUE = "SELECT ?4 AS name";

function claimStatement(served: string): string {
  return `
    UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                    lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL, kill_requested = NULL
    WHERE seq = (
      SELECT best.seq FROM (
        SELECT (SELECT seq FROM jobs INDEXED BY jobs_queue_claim
                WHERE queue = served.name AND ${WAITING} AND next_run_at <= ?3
                ORDER BY priority DESC, next_run_at, seq LIMIT 1) AS seq
        FROM (${served}) AS served
        WHERE served.name NOT IN (
          SELECT name FROM queues
          WHERE paused = 1 OR (concurrency IS NOT NULL AND concurrency <= (
            SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
      ) AS best JOIN jobs ON jobs.seq = best.seq
      ORDER BY jobs.priority DESC, jobs.next_run_at, jobs.seq LIMIT 1)
    RETURNING *`;
}

/** Built once: db.query finds a prepared statement by its text, and a new string is hashed anew. */
const CLAIM_ONE_QUEUE = claimStatement(ONE_QUEUE);
const CLAIM_NAMED_QUEUES = claimStatement(NAMED_QUEUES);

/**
 * The queues a claim serves: the named ones, or else every queue with a waiting job. Read
 * once per write transaction by a worker's round (complete-many.ts): while it holds the write
 * lock no queue gains a waiting job, so the list stays exact for each of its claims.
 */
export function servedQueues(db: Database, queues: readonly string[] | null | undefined): string[] {
  if (queues) return [...new Set(queues)];
  return (db.query(PRESENT_QUEUES).all() as { name: string }[]).map((row) => row.name);
}

/** Claims the best due job of `params.queues` (null or absent: of every queue), with its attempt row. */
export function claimJob(db: Database, params: JobClaimParams): Job | null {
  const served = servedQueues(db, params.queues);
  if (served.length === 0) return null;
  const one = served.length === 1;
  const claim = db.query(one ? CLAIM_ONE_QUEUE : CLAIM_NAMED_QUEUES);
  const recordAttempt = db.query(`
    INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const row = claim.get(
    params.workerId,
    params.now + params.leaseMs,
    params.now,
    one ? (served[0] as string) : JSON.stringify(served),
  ) as Row | null;
  if (!row) return null;
  const job = rowToJob(row);
  recordAttempt.run(job.id, job.token, job.attempts, params.workerId, params.host, params.now, job.revision);
  return job;
}

/**
 * The earliest `next_run_at` after `after` of a job a claim could take once it is due, or
 * null: the reads next-due.ts asks for, each one seek of jobs_queue_claim.
 */
export function nextDueAt(db: Database, params: JobNextDueParams): number | null {
  const served = db.query(
    `SELECT name FROM (${params.queues ? NAMED_QUEUES : PRESENT_QUEUES})
     WHERE name NOT IN (SELECT name FROM queues WHERE paused = 1)`,
  );
  const highest = db.query(
    `SELECT MAX(priority) AS n FROM jobs INDEXED BY jobs_queue_claim WHERE queue = ?1 AND ${WAITING}`,
  );
  // Its own statement: an `?2 IS NULL OR priority < ?2` could not seek and read the whole queue.
  const below = db.query(
    `SELECT MAX(priority) AS n FROM jobs INDEXED BY jobs_queue_claim WHERE queue = ?1 AND ${WAITING} AND priority < ?2`,
  );
  const earliest = db.query(`
    SELECT MIN(next_run_at) AS n FROM jobs INDEXED BY jobs_queue_claim
    WHERE queue = ?1 AND ${WAITING} AND priority = ?2 AND next_run_at > ?3`);
  const names = (
    params.queues ? served.all(null, null, null, JSON.stringify(params.queues)) : served.all()
  ) as {
    name: string;
  }[];
  const reads = nextDueReads(names.map((row) => row.name));
  const answer = (row: unknown) => ((row as Row | null)?.n ?? null) as number | null;
  let step = reads.next();
  while (!step.done) {
    const ask = step.value;
    step = reads.next(
      ask.read === "earliest"
        ? answer(earliest.get(ask.queue, ask.priority, params.after))
        : ask.below === null
          ? answer(highest.get(ask.queue))
          : answer(below.get(ask.queue, ask.below)),
    );
  }
  return step.value;
}
