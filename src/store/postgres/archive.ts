/**
 * Jobs as `export` writes them, picked by id, for the archive a purge appends to before it
 * deletes (see Store.jobPurge). The SELECT is export's (transfer.ts) with the jobs' reports.
 */

import type { SQL } from "bun";
import { rowToJobRecord } from "../rows.ts";
import type { JobRecord } from "../store.ts";

type Row = Record<string, unknown>;

export async function jobRecordsByIds(sql: SQL, ids: string[]): Promise<JobRecord[]> {
  const rows = (await sql`
    SELECT id, spec, revision, state, attempts, max_retries, created_at, updated_at, next_run_at, started_at,
           finished_at, exit_code, last_error, source, declared, canceled_by, schedule_id,
           progress_pct, progress_message, result,
           COALESCE((SELECT jsonb_agg(revision ORDER BY revision COLLATE "C")
                     FROM completed_revisions c WHERE c.job_id = jobs.id), '[]'::jsonb) AS completed,
           COALESCE((SELECT jsonb_agg(jsonb_build_object(
                       'attempt', attempt, 'token', token, 'worker_id', worker_id, 'host', host,
                       'started_at', started_at, 'finished_at', finished_at, 'exit_code', exit_code,
                       'signal', signal, 'error', error, 'stdout_bytes', stdout_bytes,
                       'stderr_bytes', stderr_bytes, 'log_path', log_path, 'output_tail', output_tail,
                       'revision', revision) ORDER BY token)
                     FROM attempts a WHERE a.job_id = jobs.id AND a.finished_at IS NOT NULL), '[]'::jsonb) AS history
    FROM jobs
    WHERE id = ANY(${ids}::text[])
    ORDER BY seq`) as Row[];
  return rows.map(rowToJobRecord);
}
