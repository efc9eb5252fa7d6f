/**
 * Jobs as `export` writes them, picked by id, for the archive a purge appends to before it
 * deletes (see Store.jobPurge). The SELECT is export's (transfer.ts) with the jobs' reports.
 */

import type { SQL } from "bun";
import { rowToJobRecord } from "../rows.ts";
import type { JobRecord } from "../store.ts";
import { JOB_RECORD_COLUMNS } from "./transfer.ts";

type Row = Record<string, unknown>;

export async function jobRecordsByIds(sql: SQL, ids: string[]): Promise<JobRecord[]> {
  const rows = (await sql`
    SELECT ${sql.unsafe(JOB_RECORD_COLUMNS)}, state, attempts, progress_pct, progress_message, result
    FROM jobs
    WHERE id = ANY(${ids}::text[])
    ORDER BY seq`) as Row[];
  return rows.map(rowToJobRecord);
}
