/** Named queues (limits, pause) and retention on PostgreSQL, as sqlite/queues.ts does them. */

import type { SQL } from "bun";
import type { JobPurgeParams, QueueSetParams } from "../params.ts";
import { AWAITED_BY_UNFINISHED_SQL, purgeableStates } from "../purge.ts";
import type { QueueInfo } from "../records.ts";
import { rowsToQueues } from "../rows.ts";
import { jobRecordsByIds } from "./archive.ts";
import { lockDependenciesShared } from "./dependencies.ts";

type Row = Record<string, unknown>;

export async function queueSet(tx: SQL, params: QueueSetParams): Promise<void> {
  await tx`INSERT INTO queues (name) VALUES (${params.name}) ON CONFLICT DO NOTHING`;
  if (params.concurrency !== undefined) {
    await tx`UPDATE queues SET concurrency = ${params.concurrency}::int WHERE name = ${params.name}`;
  }
  if (params.paused !== undefined) {
    await tx`UPDATE queues SET paused = ${params.paused}::boolean WHERE name = ${params.name}`;
  }
}

export async function queueList(sql: SQL): Promise<QueueInfo[]> {
  return rowsToQueues(
    (await sql`SELECT name, concurrency, paused FROM queues`) as Row[],
    (await sql`SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state`) as Row[],
  );
}

/** Store.queuePausedList: the queues table alone, a handful of rows. */
export async function queuePausedList(sql: SQL): Promise<string[]> {
  return ((await sql`SELECT name FROM queues WHERE paused ORDER BY name`) as Row[]).map((row) =>
    String(row.name),
  );
}

/** Deletes finished, undeclared jobs; see Store.jobPurge. */
export async function jobPurge(tx: SQL, schema: string, params: JobPurgeParams): Promise<string[]> {
  const finished = purgeableStates(params.states);
  if (finished.length === 0) return [];
  // Shared, as completions take it: a job queued to wait on one of these (enqueue, rerun)
  // holds it exclusively, so the check below sees it, or it sees the dependency gone.
  await lockDependenciesShared(tx, schema);
  // FOR UPDATE: a job being re-queued meanwhile (rerun, dlq retry) is left alone once it has moved.
  const ids = (
    (await tx`
      SELECT id FROM jobs
      WHERE state = ANY(${finished}::text[]) AND COALESCE(finished_at, updated_at) < ${params.finishedBefore}::bigint
        AND NOT declared AND NOT ${tx.unsafe(AWAITED_BY_UNFINISHED_SQL)}
      ORDER BY seq
      LIMIT ${params.limit ?? null}::bigint
      FOR UPDATE`) as Row[]
  ).map((row) => String(row.id));
  if (params.dryRun || ids.length === 0) return ids;
  // Inside the transaction, with the rows locked: a job is in the archive before its delete can commit.
  params.archive?.(await jobRecordsByIds(tx, ids));
  await tx`DELETE FROM attempts WHERE job_id = ANY(${ids}::text[])`;
  await tx`DELETE FROM job_deps WHERE job_id = ANY(${ids}::text[])`;
  // Their webhook deliveries too. One still owed is sent all the same (at least once), as no
  // job's (job_id ''), so a later job of the id never shows it; it goes at a purge once settled.
  await tx`UPDATE webhook_deliveries SET job_id = '' WHERE job_id = ANY(${ids}::text[]) AND status = 'pending'`;
  await tx`DELETE FROM webhook_deliveries WHERE (job_id = ANY(${ids}::text[]) OR job_id = '') AND status <> 'pending'`;
  await tx`DELETE FROM jobs WHERE id = ANY(${ids}::text[])`;
  return ids;
}
