/**
 * Claiming on SQLite. Claims rely on SQLite's single writer: the caller's `BEGIN IMMEDIATE`
 * takes the write lock first, so the `UPDATE … WHERE seq = (SELECT … LIMIT 1) RETURNING`
 * cannot race another claimer. PostgreSQL reaches the same guarantee with
 * `FOR UPDATE SKIP LOCKED` (see its claim.ts). Queue limits are enforced inside the write
 * lock too, so no two claims can both take the last free slot of a queue.
 *
 * Which index a claim walks is claim-route.ts's rule: jobs_claim in claim order, or each of
 * a few queues in jobs_queue_claim and the best of their heads. INDEXED BY throughout: left
 * alone, the planner has preferred jobs_state and sorted every candidate (about 70 claims/s
 * on a 100k-job table instead of thousands).
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { type ClaimRoute, claimRoute, MAX_QUEUES_WALKED } from "../claim-route.ts";
import { DUE_WINDOW, type DueAnswer, type DueRead, nextDueReads, type WaitingJob } from "../next-due.ts";
import type { JobClaimParams } from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import { rowToJob } from "../rows.ts";

type Row = Record<string, unknown>;

/** Waiting jobs a claim could take once due. */
const WAITING = "state IN ('pending', 'failed') AND blocked = 0";

/** Queues a claim may not take from now: paused, or at their concurrency limit. */
const CLOSED_QUEUES = `
  SELECT name FROM queues
  WHERE paused = 1 OR (concurrency IS NOT NULL AND concurrency <= (
    SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing'))`;

/** One walk of jobs_claim in claim order; `?4`: the served queues as a JSON array, or null for all. */
const CLAIM_BY_WALK = `
  UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                  lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL, kill_requested = NULL
  WHERE seq = (
    SELECT seq FROM jobs INDEXED BY jobs_claim
    WHERE ${WAITING} AND next_run_at <= ?3
      AND (?4 IS NULL OR queue IN (SELECT value FROM json_each(?4)))
      AND queue NOT IN (${CLOSED_QUEUES})
    ORDER BY priority DESC, next_run_at, seq LIMIT 1)
  RETURNING *`;

/** Each queue of `?4` (a JSON array) walked in jobs_queue_claim, and the best of their heads. */
const CLAIM_BY_QUEUE = `
  UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                  lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL, kill_requested = NULL
  WHERE seq = (
    SELECT best.seq FROM (
      SELECT (SELECT seq FROM jobs INDEXED BY jobs_queue_claim
              WHERE queue = served.value AND ${WAITING} AND next_run_at <= ?3
              ORDER BY priority DESC, next_run_at, seq LIMIT 1) AS seq
      FROM json_each(?4) AS served
      WHERE served.value NOT IN (${CLOSED_QUEUES})
    ) AS best JOIN jobs ON jobs.seq = best.seq
    ORDER BY jobs.priority DESC, jobs.next_run_at, jobs.seq LIMIT 1)
  RETURNING *`;

/** Queues with waiting jobs, one seek each in jobs_queue_claim, at most one past MAX_QUEUES_WALKED. */
const PRESENT_QUEUES = `
  WITH RECURSIVE present(queue) AS (
    SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_queue_claim WHERE ${WAITING})
    UNION ALL
    SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_queue_claim WHERE ${WAITING} AND queue > present.queue)
    FROM present WHERE present.queue IS NOT NULL)
  SELECT queue FROM present WHERE queue IS NOT NULL LIMIT ${MAX_QUEUES_WALKED + 1}`;

/**
 * The queues a claim walks one by one, or null to walk jobs_claim (claim-route.ts). Read once
 * per round by a worker (complete-many.ts): while it holds the write lock no queue gains a
 * waiting job, and its claims only take them, so the answer holds for each of its claims.
 */
export function walkedQueues(db: Database, named: readonly string[] | null | undefined): string[] | null {
  const anyLimited = db
    .query("SELECT 1 FROM queues WHERE paused = 1 OR concurrency IS NOT NULL LIMIT 1")
    .get();
  const route: ClaimRoute = claimRoute({ named: named ?? null, anyLimited: anyLimited !== null });
  if (route === null || "queues" in route) return route?.queues ?? null;
  const present = (db.query(PRESENT_QUEUES).all() as { queue: string }[]).map((row) => row.queue);
  return present.length <= MAX_QUEUES_WALKED ? present : null;
}

/**
 * Claims the best due job of `params.queues` (absent or null: of every queue), with its
 * attempt row. `walked`: what walkedQueues answered for the same queues in this transaction.
 */
export function claimJob(
  db: Database,
  params: JobClaimParams,
  walked = walkedQueues(db, params.queues),
): Job | null {
  const bound: [string, number, number] = [params.workerId, params.now + params.leaseMs, params.now];
  const queues = walked ?? params.queues ?? null;
  const claim = db.query(walked ? CLAIM_BY_QUEUE : CLAIM_BY_WALK);
  const row = claim.get(...bound, queues === null ? null : JSON.stringify(queues)) as Row | null;
  if (!row) return null;
  const job = rowToJob(row);
  db.query(
    "INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(job.id, job.token, job.attempts, params.workerId, params.host, params.now, job.revision);
  return job;
}

/** The earliest `next_run_at` after `after` of a job a claim could take once it is due, or null (next-due.ts). */
export function nextDueAt(db: Database, params: JobNextDueParams): number | null {
  const paused = new Set(
    (db.query("SELECT name FROM queues WHERE paused = 1").all() as Row[]).map((row) => String(row.name)),
  );
  // Separate statements for the first priority and the next one below: an `?1 IS NULL OR
  // priority < ?1` could not seek and read the whole index.
  const statements = {
    highest: db.query(`SELECT MAX(priority) AS n FROM jobs INDEXED BY jobs_claim WHERE ${WAITING}`),
    below: db.query(
      `SELECT MAX(priority) AS n FROM jobs INDEXED BY jobs_claim WHERE ${WAITING} AND priority < ?1`,
    ),
    window: db.query(`
      SELECT next_run_at, queue FROM jobs INDEXED BY jobs_claim
      WHERE ${WAITING} AND priority = ?1 AND next_run_at > ?2
      ORDER BY priority DESC, next_run_at LIMIT ${DUE_WINDOW}`),
    highestIn: db.query(`
      SELECT priority AS n FROM jobs INDEXED BY jobs_queue_claim WHERE queue = ?1 AND ${WAITING}
      ORDER BY priority DESC LIMIT 1`),
    belowIn: db.query(`
      SELECT priority AS n FROM jobs INDEXED BY jobs_queue_claim WHERE queue = ?1 AND ${WAITING} AND priority < ?2
      ORDER BY priority DESC LIMIT 1`),
    earliestIn: db.query(`
      SELECT next_run_at AS n FROM jobs INDEXED BY jobs_queue_claim
      WHERE queue = ?1 AND ${WAITING} AND priority = ?2 AND next_run_at > ?3
      ORDER BY priority DESC, next_run_at LIMIT 1`),
  };
  const value = (row: unknown) => ((row as Row | null)?.n ?? null) as number | null;
  const answer = (ask: DueRead): DueAnswer => {
    if (ask.read === "window") return statements.window.all(ask.priority, params.after) as WaitingJob[];
    if (ask.read === "earliest")
      return value(statements.earliestIn.get(ask.queue, ask.priority, params.after));
    if (ask.queue === null) {
      return value(ask.below === null ? statements.highest.get() : statements.below.get(ask.below));
    }
    return value(
      ask.below === null ? statements.highestIn.get(ask.queue) : statements.belowIn.get(ask.queue, ask.below),
    );
  };
  const reads = nextDueReads(params.queues, paused);
  let step = reads.next();
  while (!step.done) step = reads.next(answer(step.value));
  return step.value;
}
