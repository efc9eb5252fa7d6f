/**
 * Schedules on PostgreSQL: templates whose occurrences become ordinary jobs, with the
 * semantics of sqlite/schedules.ts. Firing is a compare-and-set on `next_at`: a second
 * ticker on another host waits on the row lock, then finds `next_at` moved and does nothing.
 */

import type { SQL } from "bun";
import type { JobSpec } from "../../core/spec.ts";
import type { NewJob, ScheduleRecord } from "../store.ts";
import { insertNewJobs } from "./insert.ts";

type Row = Record<string, unknown>;

function rowToSchedule(row: Row): ScheduleRecord {
  const nullable = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    id: String(row.id),
    spec: (typeof row.spec === "string" ? JSON.parse(row.spec) : row.spec) as JobSpec,
    revision: String(row.revision),
    source: row.source === null ? null : String(row.source),
    next_at: nullable(row.next_at),
    last_at: nullable(row.last_at),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

export async function scheduleUpsert(
  tx: SQL,
  params: {
    id: string;
    spec: JobSpec;
    revision: string;
    source: string | null;
    nextAt: number | null;
    now: number;
  },
): Promise<"created" | "updated" | "unchanged"> {
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

export async function scheduleGet(sql: SQL, id: string): Promise<ScheduleRecord | null> {
  const [row] = await sql`SELECT * FROM schedules WHERE id = ${id}`;
  return row ? rowToSchedule(row) : null;
}

/** Every schedule by id, or (with `dueBy`) those due by then, soonest first. */
export async function scheduleList(sql: SQL, dueBy?: number): Promise<ScheduleRecord[]> {
  // COLLATE "C" orders ids bytewise, as SQLite does, whatever the database's locale.
  const rows =
    dueBy === undefined
      ? await sql`SELECT * FROM schedules ORDER BY id COLLATE "C"`
      : await sql`SELECT * FROM schedules WHERE next_at IS NOT NULL AND next_at <= ${dueBy}::bigint ORDER BY next_at`;
  return (rows as Row[]).map(rowToSchedule);
}

export async function scheduleRemove(tx: SQL, id: string): Promise<boolean> {
  return (await tx`DELETE FROM schedules WHERE id = ${id}`).count > 0;
}

export async function scheduleFire(
  tx: SQL,
  params: {
    id: string;
    expectedNextAt: number;
    nextAt: number | null;
    occurrences: NewJob[];
    overlap: "allow" | "skip" | "replace";
    now: number;
  },
): Promise<{ enqueued: string[]; skipped: string[]; replaced: string[] }> {
  const result = { enqueued: [] as string[], skipped: [] as string[], replaced: [] as string[] };
  const moved = await tx`
    UPDATE schedules SET next_at = ${params.nextAt}::bigint, last_at = ${params.now}::bigint,
                         updated_at = ${params.now}::bigint
    WHERE id = ${params.id} AND next_at = ${params.expectedNextAt}::bigint`;
  // Another ticker fired this occurrence first.
  if (moved.count === 0) return result;
  const active = async () =>
    (
      (await tx`
        SELECT id FROM jobs WHERE schedule_id = ${params.id} AND state IN ('pending', 'failed', 'processing')
        ORDER BY seq`) as Row[]
    ).map((row) => String(row.id));
  for (const occurrence of params.occurrences) {
    const running = await active();
    if (running.length > 0 && params.overlap === "skip") {
      result.skipped.push(occurrence.spec.id);
      continue;
    }
    if (running.length > 0 && params.overlap === "replace") {
      // Canceling a running occurrence takes its lease away: its worker's next renewal fails,
      // the worker kills the process group, and the fencing token refuses its late result.
      await tx`
        UPDATE jobs SET state = 'canceled', lease_until = NULL, finished_at = ${params.now}::bigint,
                        updated_at = ${params.now}::bigint, last_error = 'replaced by a newer occurrence'
        WHERE schedule_id = ${params.id} AND state IN ('pending', 'failed', 'processing')`;
      result.replaced.push(...running);
    }
    const inserted = await insertNewJobs(tx, [occurrence], params.now);
    if (inserted.has(occurrence.spec.id)) {
      // Occurrences carry their schedule's source for display but are not declared rows, so retention may purge them.
      await tx`UPDATE jobs SET schedule_id = ${params.id}, declared = FALSE WHERE id = ${occurrence.spec.id}`;
      result.enqueued.push(occurrence.spec.id);
    }
  }
  return result;
}
