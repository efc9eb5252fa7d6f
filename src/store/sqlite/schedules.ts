/** Schedules for the SQLite backend: templates whose occurrences become ordinary jobs. */

import type { Database } from "bun:sqlite";
import {
  decideOccurrences,
  type ExistingOccurrence,
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
import { cancelDependents } from "./dependencies.ts";
import { insertValues } from "./insert.ts";

type Row = Record<string, unknown>;

export function scheduleUpsert(db: Database, params: ScheduleUpsertParams): ScheduleUpsertOutcome {
  const existing = db
    .query("SELECT revision, source FROM schedules WHERE id = ?")
    .get(params.id) as Row | null;
  if (!existing) {
    db.query(
      `INSERT INTO schedules (id, spec, revision, source, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      params.id,
      JSON.stringify(params.spec),
      params.revision,
      params.source,
      params.nextAt,
      params.now,
      params.now,
    );
    return "created";
  }
  if (existing.revision === params.revision && existing.source === params.source) return "unchanged";
  db.query(
    "UPDATE schedules SET spec = ?, revision = ?, source = ?, next_at = ?, updated_at = ? WHERE id = ?",
  ).run(JSON.stringify(params.spec), params.revision, params.source, params.nextAt, params.now, params.id);
  return "updated";
}

export function scheduleGet(db: Database, params: ById): ScheduleRecord | null {
  const row = db.query("SELECT * FROM schedules WHERE id = ?").get(params.id) as Row | null;
  return row ? rowToSchedule(row) : null;
}

/** Every schedule, by id. */
export function scheduleList(db: Database): ScheduleRecord[] {
  return (db.query("SELECT * FROM schedules ORDER BY id").all() as Row[]).map(rowToSchedule);
}

/** The schedules due by `now`, soonest first. */
export function scheduleDue(db: Database, params: ScheduleDueParams): ScheduleRecord[] {
  return (
    db
      .query("SELECT * FROM schedules WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at")
      .all(params.now) as Row[]
  ).map(rowToSchedule);
}

export function scheduleRemove(db: Database, params: ById): boolean {
  return db.query("DELETE FROM schedules WHERE id = ?").run(params.id).changes > 0;
}

/**
 * Moves `next_at` (compare-and-set: a second ticker finds it moved and does nothing), reads
 * what the overlap decision needs, and writes what it decided, all in the caller's
 * transaction.
 */
export function scheduleFire(db: Database, params: ScheduleFireParams): ScheduleFireResult {
  const moved = db
    .query("UPDATE schedules SET next_at = ?, last_at = ?, updated_at = ? WHERE id = ? AND next_at = ?")
    .run(params.nextAt, params.now, params.now, params.id, params.expectedNextAt).changes;
  if (moved === 0) return { enqueued: [], skipped: [], replaced: [] };
  const owed = params.occurrences.map((occurrence) => occurrence.spec.id);
  const existing = db
    .query(`
      SELECT id, state FROM jobs
      WHERE (schedule_id = ?1 AND state IN (SELECT value FROM json_each(?2)))
         OR id IN (SELECT value FROM json_each(?3))
      ORDER BY seq`)
    .all(
      params.id,
      JSON.stringify(UNFINISHED_OCCURRENCE_STATES),
      JSON.stringify(owed),
    ) as ExistingOccurrence[];
  const actions = decideOccurrences({ overlap: params.overlap, owed, existing });
  const byId = new Map(params.occurrences.map((occurrence) => [occurrence.spec.id, occurrence]));
  // Canceling a running occurrence takes its lease away: its worker's next renewal fails,
  // the worker kills the process group, and the fencing token refuses its late result.
  const cancel = db.query(`
    UPDATE jobs SET state = 'canceled', lease_until = NULL, finished_at = ?1, updated_at = ?1,
                    last_error = 'replaced by a newer occurrence'
    WHERE id = ?2 AND state IN (SELECT value FROM json_each(?3))`);
  // Its attempt ends here too: the worker's late result is refused, so nothing else would end it.
  const endAttempt = db.query(`
    UPDATE attempts SET finished_at = ?1, error = 'replaced by a newer occurrence'
    WHERE job_id = ?2 AND finished_at IS NULL AND token = (SELECT token FROM jobs WHERE id = ?2)`);
  const insert = db.query(`
    INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                      next_run_at, source, declared, schedule_id)
    VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING`);
  const done: OccurrenceAction[] = [];
  for (const action of actions) {
    if (action.kind === "cancel") {
      if (cancel.run(params.now, action.id, JSON.stringify(UNFINISHED_OCCURRENCE_STATES)).changes === 0)
        continue;
      endAttempt.run(params.now, action.id);
      cancelDependents(db, action.id, "canceled", params.now);
    } else if (action.kind === "enqueue") {
      const occurrence = byId.get(action.id);
      if (!occurrence) continue;
      // Occurrences carry their schedule's source for display but are not declared rows, so retention may purge them.
      const values = insertValues(occurrence, params.now);
      values[values.length - 1] = 0;
      if (insert.run(...values, params.id).changes === 0) continue;
    }
    done.push(action);
  }
  return summarizeOccurrences(done);
}
