/**
 * Jobs as `export` writes them, picked by id, for the archive a purge appends to before it
 * deletes (see Store.jobPurge). The SELECT is export's (transfer.ts) with the jobs' reports.
 */

import type { Database } from "bun:sqlite";
import { rowToJobRecord } from "../rows.ts";
import type { JobRecord } from "../store.ts";
import { JOB_RECORD_COLUMNS } from "./transfer.ts";

type Row = Record<string, unknown>;

export function jobRecordsByIds(db: Database, ids: string[]): JobRecord[] {
  const rows = db
    .query(`
      SELECT ${JOB_RECORD_COLUMNS}, state, attempts, progress_pct, progress_message, result
      FROM jobs
      WHERE id IN (SELECT value FROM json_each(?))
      ORDER BY seq`)
    .all(JSON.stringify(ids)) as Row[];
  return rows.map(rowToJobRecord);
}
