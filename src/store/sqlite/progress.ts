/**
 * What running jobs report back, for the SQLite backend: progress while they run and the
 * result they leave. Both writes are fenced like a result (token and `processing`), so an
 * attempt that lost its lease never overwrites a newer one's report.
 */

import type { Database } from "bun:sqlite";
import type { JobProgressSaveParams, JobResultSaveParams, JobResultsParams } from "../params.ts";
import type { JobResult } from "../records.ts";

type Row = Record<string, unknown>;

/** Saves each update whose attempt still holds its job; returns how many did. */
export function jobProgressSave(db: Database, params: JobProgressSaveParams): number {
  const update = db.query(`
    UPDATE jobs SET progress_pct = ?1, progress_message = ?2
    WHERE id = ?3 AND token = ?4 AND state = 'processing'`);
  let saved = 0;
  for (const entry of params.updates) {
    saved += update.run(entry.pct, entry.message, entry.id, entry.token).changes;
  }
  return saved;
}

/** Stores (or, with null, clears) the result of the attempt `token`, before that attempt is recorded. */
export function jobResultSave(db: Database, params: JobResultSaveParams): boolean {
  return (
    db
      .query("UPDATE jobs SET result = ?1 WHERE id = ?2 AND token = ?3 AND state = 'processing'")
      .run(params.result, params.id, params.token).changes > 0
  );
}

/** The stored results of `ids`; ids that do not exist are left out. */
export function jobResults(db: Database, params: JobResultsParams): JobResult[] {
  return (
    db
      .query("SELECT id, result FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
      .all(JSON.stringify(params.ids)) as Row[]
  ).map((row) => ({ id: String(row.id), result: row.result === null ? null : String(row.result) }));
}
