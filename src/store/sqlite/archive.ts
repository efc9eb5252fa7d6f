/**
 * Jobs as `export` writes them, picked by id, for the archive a purge appends to before it
 * deletes (see Store.jobPurge). The SELECT is export's (import.ts) with the jobs' reports.
 */

import type { Database } from "bun:sqlite";
import { rowToJobRecord } from "../rows.ts";
import type { JobRecord } from "../store.ts";

type Row = Record<string, unknown>;

export function jobRecordsByIds(db: Database, ids: string[]): JobRecord[] {
  const rows = db
    .query(`
      SELECT id, spec, revision, state, attempts, max_retries, created_at, updated_at, next_run_at,
             started_at, finished_at, exit_code, last_error, source, declared, canceled_by, schedule_id,
             progress_pct, progress_message, result,
             (SELECT json_group_array(revision) FROM completed_revisions c WHERE c.job_id = jobs.id) AS completed,
             (SELECT json_group_array(json_object(
                       'attempt', attempt, 'token', token, 'worker_id', worker_id, 'host', host,
                       'started_at', started_at, 'finished_at', finished_at, 'exit_code', exit_code,
                       'signal', signal, 'error', error, 'stdout_bytes', stdout_bytes,
                       'stderr_bytes', stderr_bytes, 'log_path', log_path, 'output_tail', output_tail,
                       'revision', revision))
              FROM attempts a WHERE a.job_id = jobs.id AND a.finished_at IS NOT NULL) AS history
      FROM jobs
      WHERE id IN (SELECT value FROM json_each(?))
      ORDER BY seq`)
    .all(JSON.stringify(ids)) as Row[];
  return rows.map(rowToJobRecord);
}
