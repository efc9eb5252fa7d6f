/**
 * Schedules on PostgreSQL: templates whose occurrences become ordinary jobs, with the
 * semantics of sqlite/schedules.ts; what firing does is decided by core/schedule-tick.ts. Firing is a compare-and-set on `next_at`: a second
 * ticker on another host waits on the row lock, then finds `next_at` moved and does nothing.
 */

import type { SQL } from "bun";
import type { JobState } from "../../core/job.ts";
import {
  decideOccurrences,
  type OccurrenceAction,
  summarizeOccurrences,
  UNFINISHED_OCCURRENCE_STATES,
} from "../../core/schedule-tick.ts";
import type {
  ById,
  ScheduleDueParams,
  ScheduleFireParams,
  ScheduleFireResult,
  ScheduleUpsertOutcome,
  ScheduleUpsertParams,
} from "../params.ts";
import type { ScheduleRecord } from "../records.ts";
import { rowToSchedule } from "../rows.ts";
import { cancelDependents, lockDependenciesExclusive } from "./dependencies.ts";
import { insertNewJobs } from "./insert.ts";

type Row = Record<string, unknown>;

export async function scheduleUpsert(tx: SQL, params: ScheduleUpsertParams): Promise<ScheduleUpsertOutcome> {
  const spec = JSON.stringify(params.spec);
  const inserted = await tx`
    INSERT INTO schedules (id, spec, revision, source, next_at, created_at, updated_at)
    VALUES (${params.id}, ${spec}::text::jsonb, ${params.revision}, ${params.source}::text, ${params.nextAt}::bigint,
            ${params.now}::bigint, ${params.now}::bigint)
    ON CONFLICT (id) DO NOTHING`;
  if (inserted.count > 0) return "created";
  const [existing] = await tx`SELECT revision, source FROM schedules WHERE id = ${params.id} FOR UPDATE`;
  if (existing && existing.revision === params.revision && existing.source === params.source)
    return "unchanged";
  await tx`
    UPDATE schedules SET spec = ${spec}::text::jsonb, revision = ${params.revision}, source = ${params.source}::text,
                         next_at = ${params.nextAt}::bigint, updated_at = ${params.now}::bigint
    WHERE id = ${params.id}`;
  return "updated";
}

export async function scheduleGet(sql: SQL, params: ById): Promise<ScheduleRecord | null> {
  const [row] = await sql`SELECT * FROM schedules WHERE id = ${params.id}`;
  return row ? rowToSchedule(row) : null;
}

/** Every schedule, by id. */
export async function scheduleList(sql: SQL): Promise<ScheduleRecord[]> {
  // COLLATE "C" orders ids bytewise, as SQLite does, whatever the database's locale.
  return ((await sql`SELECT * FROM schedules ORDER BY id COLLATE "C"`) as Row[]).map(rowToSchedule);
}

/** The schedules due by `now`, soonest first. */
export async function scheduleDue(sql: SQL, params: ScheduleDueParams): Promise<ScheduleRecord[]> {
  return (
    (await sql`
      SELECT * FROM schedules WHERE next_at IS NOT NULL AND next_at <= ${params.now}::bigint ORDER BY next_at`) as Row[]
  ).map(rowToSchedule);
}

export async function scheduleRemove(tx: SQL, params: ById): Promise<boolean> {
  return (await tx`DELETE FROM schedules WHERE id = ${params.id}`).count > 0;
}

/**
 * Moves `next_at` (compare-and-set: a second ticker waits on the row lock, then finds it
 * moved and does nothing), reads what the overlap decision needs, and writes what it
 * decided, all in the caller's transaction.
 */
export async function scheduleFire(
  tx: SQL,
  schema: string,
  params: ScheduleFireParams,
): Promise<ScheduleFireResult> {
  // Replacing cancels jobs, which may cancel their dependents: like every state move, it
  // takes the dependency lock first, before any row lock.
  if (params.overlap === "replace") await lockDependenciesExclusive(tx, schema);
  const moved = await tx`
    UPDATE schedules SET next_at = ${params.nextAt}::bigint, last_at = ${params.now}::bigint,
                         updated_at = ${params.now}::bigint
    WHERE id = ${params.id} AND next_at = ${params.expectedNextAt}::bigint`;
  if (moved.count === 0) return { enqueued: [], skipped: [], replaced: [] };
  const owed = params.occurrences.map((occurrence) => occurrence.spec.id);
  const unfinished = [...UNFINISHED_OCCURRENCE_STATES];
  const existing = (
    (await tx`
      SELECT id, state FROM jobs
      WHERE (schedule_id = ${params.id} AND state = ANY(${unfinished}::text[])) OR id = ANY(${owed}::text[])
      ORDER BY seq`) as Row[]
  ).map((row) => ({ id: String(row.id), state: row.state as JobState }));
  const actions = decideOccurrences({ overlap: params.overlap, owed, existing });
  const byId = new Map(params.occurrences.map((occurrence) => [occurrence.spec.id, occurrence]));
  const done: OccurrenceAction[] = [];
  for (const action of actions) {
    if (action.kind === "cancel") {
      // Canceling a running occurrence takes its lease away: its worker's next renewal fails,
      // the worker kills the process group, and the fencing token refuses its late result.
      const canceled = await tx`
        UPDATE jobs SET state = 'canceled', lease_until = NULL, finished_at = ${params.now}::bigint,
                        updated_at = ${params.now}::bigint, last_error = 'replaced by a newer occurrence'
        WHERE id = ${action.id} AND state = ANY(${unfinished}::text[])`;
      if (canceled.count === 0) continue;
      // Its attempt ends here too: the worker's late result is refused, so nothing else would end it.
      await tx`
        UPDATE attempts SET finished_at = ${params.now}::bigint, error = 'replaced by a newer occurrence'
        WHERE job_id = ${action.id} AND finished_at IS NULL
          AND token = (SELECT token FROM jobs WHERE id = ${action.id})`;
      await cancelDependents(tx, action.id, "canceled", params.now);
    } else if (action.kind === "enqueue") {
      const occurrence = byId.get(action.id);
      if (!occurrence || !(await insertNewJobs(tx, [occurrence], params.now)).has(action.id)) continue;
      // Occurrences carry their schedule's source for display but are not declared rows, so retention may purge them.
      await tx`UPDATE jobs SET schedule_id = ${params.id}, declared = FALSE WHERE id = ${action.id}`;
    }
    done.push(action);
  }
  return summarizeOccurrences(done);
}
