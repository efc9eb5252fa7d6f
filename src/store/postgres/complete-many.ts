/**
 * A worker's hot path on PostgreSQL in one transaction and few round trips: every run that
 * finished well is completed by one statement (the job rows and their attempt rows, from
 * arrays), then the free slots are claimed by one statement with `LIMIT n FOR UPDATE SKIP
 * LOCKED`. A round trip costs far more than the statement here, so the per-job cost falls
 * with every job a batch carries. The rare extras (jobfile revisions, dependents, a newer
 * revision waiting) run per job, as `completeJob` does them.
 *
 * Claims here skip queues with a limit or a pause: those need the queue's row locked first
 * (claim.ts), so the caller claims in them with `claimJob` when this came back short.
 */

import type { SQL } from "bun";
import type { Job } from "../../core/job.ts";
import { namedQueuesWalked } from "../claim-route.ts";
import type { CompleteAndClaimParams, CompleteAndClaimResult, CompletedRun } from "../params.ts";
import { rowToJob } from "../rows.ts";
import { CLAIM_CANDIDATES } from "./claim.ts";
import { pgText } from "./connection.ts";
import { lockDependenciesShared, releaseDependents } from "./dependencies.ts";
import { promoteNextRevision } from "./run.ts";
import { MAY_NOTIFY_SQL, recordWebhookEvents } from "./webhooks.ts";

type Row = Record<string, unknown>;

/** The one statement that completes every run; its rows say which extras each job needs. */
async function completeStatement(tx: SQL, schema: string, runs: CompletedRun[], now: number): Promise<Row[]> {
  if (runs.length === 0) return [];
  const column = <T>(pick: (run: CompletedRun) => T) => runs.map(pick);
  // Sent together, one round trip: the server still takes the lock before the statement
  // after it begins (and takes its snapshot). A generic plan, as for the claim (claimMany):
  // planned anew at each bind, this statement cost 0.55 ms of a 1.6 ms round, more than it
  // took to run; it only walks primary keys, which a generic plan gets right. What runs
  // after it and should plan by its parameters puts the setting back first: a claim of named
  // queues (claimMany) and the extras (completeAndClaim).
  const [, , rows] = (await Promise.all([
    lockDependenciesShared(tx, schema),
    tx`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`,
    tx`
    WITH input AS (
      SELECT * FROM unnest(
        ${column((r) => r.id)}::text[], ${column((r) => r.token)}::int[],
        ${column((r) => r.result.exitCode)}::int[], ${column((r) => r.result.signal)}::text[],
        ${column((r) => pgText(r.result.error ?? r.result.note ?? null))}::text[], ${column((r) => r.result.stdoutBytes)}::bigint[],
        ${column((r) => r.result.stderrBytes)}::bigint[], ${column((r) => r.result.logPath)}::text[],
        ${column((r) => pgText(r.result.outputTail))}::text[], ${column((r) => r.result.startedAt ?? null)}::bigint[],
        ${column((r) => r.result.finishedAt ?? null)}::bigint[]
      ) AS i(id, token, exit_code, signal, error, stdout_bytes, stderr_bytes, log_path, output_tail, started_at,
             finished_at)
    ), locked AS (
      -- In id order, as lease renewals lock them (run.ts): other orders can deadlock.
      SELECT jobs.id FROM jobs JOIN input ON jobs.id = input.id AND jobs.token = input.token
      WHERE jobs.state = 'processing' ORDER BY jobs.id FOR UPDATE OF jobs
    ), done AS (
      UPDATE jobs SET state = 'completed', finished_at = COALESCE(input.finished_at, ${now}::bigint),
                      updated_at = ${now}::bigint,
                      lease_until = NULL, exit_code = input.exit_code, last_error = NULL,
                      started_at = COALESCE(input.started_at, jobs.started_at)
      FROM input JOIN locked ON locked.id = input.id
      WHERE jobs.id = input.id AND jobs.token = input.token AND jobs.state = 'processing'
      RETURNING jobs.id, jobs.token, jobs.revision, jobs.source IS NOT NULL AS declared,
                jobs.next_spec IS NOT NULL AS has_next,
                EXISTS (SELECT 1 FROM job_deps d WHERE d.depends_on = jobs.id) AS has_dependents,
                ${tx.unsafe(MAY_NOTIFY_SQL)} AS has_webhooks
    ), attempt AS (
      UPDATE attempts SET finished_at = COALESCE(input.finished_at, ${now}::bigint), exit_code = input.exit_code,
                          signal = input.signal,
                          error = input.error, stdout_bytes = input.stdout_bytes,
                          stderr_bytes = input.stderr_bytes, log_path = input.log_path,
                          output_tail = input.output_tail,
                          started_at = COALESCE(input.started_at, attempts.started_at)
      FROM done JOIN input ON input.id = done.id AND input.token = done.token
      WHERE attempts.job_id = done.id AND attempts.token = done.token
    )
    SELECT * FROM done`,
  ])) as [unknown, unknown, Row[]];
  return rows;
}

function needsExtras(row: Row): boolean {
  return Boolean(row.has_webhooks || row.declared || row.has_dependents || row.has_next);
}

/** The per-job rest of a completion (webhooks, jobfile revisions, dependents, a waiting revision). */
async function completeExtras(tx: SQL, runs: CompletedRun[], rows: Row[], now: number): Promise<boolean[]> {
  // Announced before a waiting revision replaces the row (it reads the job as completed), as
  // completeJob does. Most queues have no webhooks: the outbox's read is skipped unless one may apply.
  const notifying = rows.filter((row) => row.has_webhooks).map((row) => String(row.id));
  await recordWebhookEvents(tx, notifying, now);
  const completed = new Set<string>();
  for (const row of rows) {
    const id = String(row.id);
    completed.add(`${id}\0${row.token}`);
    if (row.declared) {
      await tx`INSERT INTO completed_revisions (job_id, revision, completed_at)
               VALUES (${id}, ${row.revision}, ${now}::bigint) ON CONFLICT DO NOTHING`;
    }
    if (row.has_dependents) await releaseDependents(tx, id, now);
    if (row.has_next) await promoteNextRevision(tx, id, now);
  }
  return runs.map((run) => completed.has(`${run.id}\0${run.token}`));
}

type Claim = NonNullable<CompleteAndClaimParams["claim"]>;

/** The claim's transaction-local planner settings; claimMany says why. */
const CLAIM_PLANNER = {
  enable_sort: "off",
  enable_seqscan: "off",
  jit: "off",
  plan_cache_mode: "force_generic_plan",
};
const PLANNER_NAMES = Object.keys(CLAIM_PLANNER);

/**
 * Up to `limit` jobs from queues without a limit or pause, each with its attempt row; none
 * while a job of `unlessDependedOn` has dependents (completeAndClaim says why).
 */
async function claimMany(
  tx: SQL,
  claim: Claim,
  now: number,
  unlessDependedOn: string[] = [],
): Promise<Job[]> {
  if (claim.limit <= 0) return [];
  const queues = claim.queues ?? null;
  // The candidates are claim.ts's: a walk of jobs_claim, or each of a few queues walked in
  // jobs_queue_claim (claim-route.ts). Each queue's walk locks up to `limit` jobs before the
  // best `limit` are kept, so a round over every queue walks them one by one only while some
  // queue is paused or limited: with five queues it had cost 5,200 claim + complete cycles/s
  // against 7,064 for the one walk.
  //
  // Each walk must go in index order and stop after its LIMIT. Without fresh statistics (a
  // bulk enqueue just now, autovacuum behind or off) the planner guesses a few waiting rows
  // and sorts all of them instead: 13 ms a claim of 4 at 20,000 pending jobs, growing with
  // the queue. A disabled sort still costs 10^10 on paper, which would cross JIT's threshold
  // (300 ms of compiling), so JIT goes off with it. The settings are transaction-local and go
  // in the same round trip as the claim; completeAndClaim puts them back for any statement
  // after it.
  //
  // The plan is kept, too (a generic plan): planning it anew for every claim cost about as
  // much as running it. So the claimed rows are found by primary key from an array, which
  // a generic plan cannot get wrong by guessing how many rows the LIMIT lets through. It is
  // made at a connection's first claim, and made while the table held a few thousand rows
  // it found them by reading the whole table at every later claim (18 ms a round at 200,000
  // jobs): sequential scans go off too.
  const [, rows] = (await Promise.all([
    tx`SELECT set_config(name, value, true)
       FROM unnest(${PLANNER_NAMES}::text[], ${Object.values(CLAIM_PLANNER)}::text[]) AS s(name, value)`,
    tx`
    WITH RECURSIVE params AS (
      SELECT ${namedQueuesWalked(queues)}::text[] AS walked, ${queues}::text[] AS queues, ${now}::bigint AS now,
             -- Nothing while a completing job has dependents (completeAndClaim says why): a
             -- LIMIT of 0 locks no row.
             CASE WHEN EXISTS (SELECT 1 FROM job_deps WHERE depends_on = ANY(${unlessDependedOn}::text[]))
                  THEN 0 ELSE ${claim.limit}::int END AS lim
    ), limited(name) AS (
      SELECT name FROM queues WHERE paused OR concurrency IS NOT NULL
    ), ${tx.unsafe(CLAIM_CANDIDATES)}, next AS (
      SELECT seq FROM candidates
    ), claimed AS (
      UPDATE jobs SET state = 'processing', attempts = jobs.attempts + 1, token = jobs.token + 1,
                      worker_id = ${claim.workerId}, lease_until = ${now + claim.leaseMs}::bigint,
                      started_at = ${now}::bigint, updated_at = ${now}::bigint, finished_at = NULL,
                      kill_requested = NULL
      WHERE jobs.seq = ANY(ARRAY(SELECT seq FROM next))
      RETURNING jobs.*
    ), recorded AS (
      INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, revision)
      SELECT id, token, attempts, worker_id, ${claim.host}, ${now}::bigint, revision FROM claimed
    )
    SELECT * FROM claimed ORDER BY priority DESC, next_run_at, seq`,
  ])) as [unknown, Row[]];
  return rows.map(rowToJob);
}

/** Whether any queue has a limit or a pause, so that a short claim should look there too. */
export async function anyLimitedQueue(sql: SQL): Promise<boolean> {
  const [row] =
    await sql`SELECT EXISTS (SELECT 1 FROM queues WHERE paused OR concurrency IS NOT NULL) AS limited`;
  return Boolean(row?.limited);
}

/**
 * Completes `params.completions` and claims up to `params.claim.limit` jobs from queues
 * without a limit or pause, in the caller's transaction; the caller claims one by one in
 * limited queues when this comes back short (see anyLimitedQueue).
 */
export async function completeAndClaim(
  tx: SQL,
  schema: string,
  params: CompleteAndClaimParams,
  notify: () => Promise<void>,
): Promise<CompleteAndClaimResult> {
  // The completion and the claim go out in one round trip. The claim cannot take a job the
  // completion touches: those are running, and the extras only make jobs claimable (a
  // waiting revision, dependents), which the next round claims. But releasing dependents
  // waits for their row locks, and a failure cancelling its own dependents may hold one of
  // them while it waits for a job this claim just locked: a deadlock. So while a completing
  // job has dependents the early claim takes nothing, and the claim runs after the extras
  // (after a completion fenced off by its token, the next round claims instead).
  const { claim, completions, now } = params;
  const completing = completions.map((run) => run.id);
  const [rows, early] = await Promise.all([
    completeStatement(tx, schema, completions, now),
    claim ? claimMany(tx, claim, now, completing) : [],
  ]);
  // The extras plan by their parameters: whatever the completion and the claim set goes back
  // to the session's own values (DEFAULT), in one round trip; reading them from pg_settings
  // instead cost 0.8 ms.
  if (rows.some(needsExtras)) {
    await Promise.all(PLANNER_NAMES.map((name) => tx.unsafe(`SET LOCAL ${name} TO DEFAULT`)));
  }
  const completed = await completeExtras(tx, completions, rows, now);
  if (completed.some(Boolean)) await notify();
  const held = claim !== null && early.length < claim.limit && rows.some((row) => row.has_dependents);
  const claimed = held
    ? [...early, ...(await claimMany(tx, { ...claim, limit: claim.limit - early.length }, now))]
    : early;
  return { completed, claimed };
}
