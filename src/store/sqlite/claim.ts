/**
 * Claiming on SQLite. Claims rely on SQLite's single writer: the caller's `BEGIN IMMEDIATE`
 * takes the write lock first, so the `UPDATE … WHERE seq = (SELECT … LIMIT 1) RETURNING`
 * cannot race another claimer. PostgreSQL reaches the same guarantee with
 * `FOR UPDATE SKIP LOCKED` (see its claim.ts).
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { DUE_WINDOW, earlier, earliestServed, MAX_PRIORITIES_SEEN, type WaitingJob } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

export function claimJob(db: Database, params: JobClaimParams): Job | null {
  const claim = db.query(`
    UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                    lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL, kill_requested = NULL
    WHERE seq = (
      -- INDEXED BY: left alone, the planner prefers jobs_state and sorts every candidate
      -- (about 70 claims/s on a 100k-job table instead of thousands).
      -- Queue limits are enforced here, inside the write lock, so no two claims can both
      -- take the last free slot of a queue.
      SELECT seq FROM jobs INDEXED BY jobs_claim
      WHERE state IN ('pending', 'failed') AND blocked = 0 AND next_run_at <= ?3
        AND (?4 IS NULL OR queue IN (SELECT value FROM json_each(?4)))
        AND queue NOT IN (
          SELECT name FROM queues
          WHERE paused = 1 OR (concurrency IS NOT NULL AND concurrency <= (
            SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
      ORDER BY priority DESC, next_run_at, seq LIMIT 1)
    RETURNING *`);
  const recordAttempt = db.query(`
    INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const queues = params.queues ? JSON.stringify(params.queues) : null;
  const row = claim.get(params.workerId, params.now + params.leaseMs, params.now, queues) as Row | null;
  if (!row) return null;
  const job = rowToJob(row);
  recordAttempt.run(job.id, job.token, job.attempts, params.workerId, params.host, params.now, job.revision);
  return job;
}

/**
 * The earliest `next_run_at` after `after` of a job a claim could take once it is due, or
 * null (see next-due.ts). The claim index leads with priority, so each priority present is
 * found by a seek, a skip-scan written out, and its earliest jobs by a bounded walk.
 */
export function nextDueAt(db: Database, params: JobNextDueParams): number | null {
  const waiting = "state IN ('pending', 'failed') AND blocked = 0";
  const top = db.query(`SELECT MAX(priority) AS p FROM jobs INDEXED BY jobs_claim WHERE ${waiting}`);
  // Its own statement: an `?1 IS NULL OR priority < ?1` could not seek and read the whole index.
  const below = db.query(
    `SELECT MAX(priority) AS p FROM jobs INDEXED BY jobs_claim WHERE ${waiting} AND priority < ?1`,
  );
  const window = db.query(`
    SELECT next_run_at, queue FROM jobs INDEXED BY jobs_claim
    WHERE ${waiting} AND priority = ?1 AND next_run_at > ?2
    ORDER BY priority DESC, next_run_at LIMIT ${DUE_WINDOW}`);
  const paused = new Set(
    (db.query("SELECT name FROM queues WHERE paused = 1").all() as Row[]).map((row) => String(row.name)),
  );
  let due: number | null = null;
  let priority: unknown = (top.get() as Row | null)?.p;
  for (let step = 0; step < MAX_PRIORITIES_SEEN && priority !== null && priority !== undefined; step++) {
    const rows = window.all(Number(priority), params.after) as WaitingJob[];
    due = earlier(due, earliestServed(rows, params.queues, paused));
    priority = (below.get(Number(priority)) as Row | null)?.p;
  }
  return due;
}
