/** Named queues (limits, pause) and retention on PostgreSQL, as sqlite/queues.ts does them. */

import type { SQL } from "bun";
import { emptyStateCounts, type JobState } from "../../core/job.ts";
import type { JobPurgeParams, QueueInfo } from "../store.ts";
import { jobRecordsByIds } from "./archive.ts";

type Row = Record<string, unknown>;

export async function queueSet(
  tx: SQL,
  params: { name: string; concurrency?: number | null; paused?: boolean },
): Promise<void> {
  await tx`INSERT INTO queues (name) VALUES (${params.name}) ON CONFLICT DO NOTHING`;
  if (params.concurrency !== undefined) {
    await tx`UPDATE queues SET concurrency = ${params.concurrency}::int WHERE name = ${params.name}`;
  }
  if (params.paused !== undefined) {
    await tx`UPDATE queues SET paused = ${params.paused}::boolean WHERE name = ${params.name}`;
  }
}

export async function queueList(sql: SQL): Promise<QueueInfo[]> {
  const queues = new Map<string, QueueInfo>();
  const entry = (name: string): QueueInfo => {
    let info = queues.get(name);
    if (!info) {
      info = { name, concurrency: null, paused: false, counts: emptyStateCounts() };
      queues.set(name, info);
    }
    return info;
  };
  for (const row of (await sql`SELECT name, concurrency, paused FROM queues`) as Row[]) {
    const info = entry(String(row.name));
    info.concurrency = row.concurrency === null ? null : Number(row.concurrency);
    info.paused = Boolean(row.paused);
  }
  for (const row of (await sql`SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state`) as Row[]) {
    const info = entry(String(row.queue));
    info.counts[row.state as JobState] = Number(row.n);
    info.counts.total += Number(row.n);
  }
  return [...queues.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Deletes finished, undeclared jobs; see Store.jobPurge. */
export async function jobPurge(tx: SQL, params: JobPurgeParams): Promise<string[]> {
  const finished = params.states.filter(
    (state) => state === "completed" || state === "dead" || state === "canceled",
  );
  if (finished.length === 0) return [];
  // FOR UPDATE: a job being re-queued meanwhile (rerun, dlq retry) is left alone once it has moved.
  const ids = (
    (await tx`
      SELECT id FROM jobs
      WHERE state = ANY(${finished}::text[]) AND COALESCE(finished_at, updated_at) < ${params.finishedBefore}::bigint
        AND NOT declared
      ORDER BY seq
      LIMIT ${params.limit ?? null}::bigint
      FOR UPDATE`) as Row[]
  ).map((row) => String(row.id));
  if (params.dryRun || ids.length === 0) return ids;
  // Inside the transaction, with the rows locked: a job is in the archive before its delete can commit.
  params.archive?.(await jobRecordsByIds(tx, ids));
  await tx`DELETE FROM attempts WHERE job_id = ANY(${ids}::text[])`;
  await tx`DELETE FROM job_deps WHERE job_id = ANY(${ids}::text[])`;
  await tx`DELETE FROM jobs WHERE id = ANY(${ids}::text[])`;
  return ids;
}
