/** Named queues (limits, pause) and retention, for the SQLite backend. */

import type { Database } from "bun:sqlite";
import type { JobPurgeParams, QueueSetParams } from "../params.ts";
import { AWAITED_BY_UNFINISHED_SQL, purgeableStates } from "../purge.ts";
import type { QueueInfo } from "../records.ts";
import { rowsToQueues } from "../rows.ts";
import { jobRecordsByIds } from "./archive.ts";

type Row = Record<string, unknown>;

export function queueSet(db: Database, params: QueueSetParams): void {
  db.query("INSERT OR IGNORE INTO queues (name) VALUES (?)").run(params.name);
  if (params.concurrency !== undefined) {
    db.query("UPDATE queues SET concurrency = ? WHERE name = ?").run(params.concurrency, params.name);
  }
  if (params.paused !== undefined)
    db.query("UPDATE queues SET paused = ? WHERE name = ?").run(params.paused ? 1 : 0, params.name);
}

export function queueList(db: Database): QueueInfo[] {
  return rowsToQueues(
    db.query("SELECT name, concurrency, paused FROM queues").all() as Row[],
    db.query("SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state").all() as Row[],
  );
}

/** Store.queuePausedList: the queues table alone, a handful of rows. */
export function queuePausedList(db: Database): string[] {
  return (db.query("SELECT name FROM queues WHERE paused = 1 ORDER BY name").all() as Row[]).map((row) =>
    String(row.name),
  );
}

/** Deletes finished, undeclared jobs; see Store.jobPurge. */
export function jobPurge(db: Database, params: JobPurgeParams): string[] {
  const finished = purgeableStates(params.states);
  if (finished.length === 0) return [];
  const ids = (
    db
      .query(`
        SELECT id FROM jobs
        WHERE state IN (SELECT value FROM json_each(?1)) AND COALESCE(finished_at, updated_at) < ?2 AND declared = 0
          AND NOT ${AWAITED_BY_UNFINISHED_SQL}
        ORDER BY seq LIMIT ?3`)
      .all(JSON.stringify(finished), params.finishedBefore, params.limit ?? -1) as Row[]
  ).map((row) => String(row.id));
  if (params.dryRun || ids.length === 0) return ids;
  // Inside the write transaction: a job is in the archive before its delete can commit.
  params.archive?.(jobRecordsByIds(db, ids));
  const list = JSON.stringify(ids);
  db.query("DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?))").run(list);
  db.query("DELETE FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?))").run(list);
  // Their webhook deliveries too. One still owed is sent all the same (at least once), as no
  // job's (job_id ''), so a later job of the id never shows it; it goes at a purge once settled.
  db.query(
    "UPDATE webhook_deliveries SET job_id = '' WHERE job_id IN (SELECT value FROM json_each(?)) AND status = 'pending'",
  ).run(list);
  db.query(
    "DELETE FROM webhook_deliveries WHERE (job_id IN (SELECT value FROM json_each(?)) OR job_id = '') AND status <> 'pending'",
  ).run(list);
  db.query("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))").run(list);
  return ids;
}
