/**
 * Moving a queue in and out of PostgreSQL, with the semantics of sqlite/transfer.ts, attempt
 * history and `--merge` included. Import sends each batch as column arrays (see insert.ts)
 * rather than one round trip per job.
 */

import type { SQL } from "bun";
import { importWaits, waitsOnImport } from "../../core/import-waits.ts";
import { importClaimError, importedJobClaim } from "../../core/occurrence-id.ts";
import type { CompletedRevisionOf } from "../../core/reconcile.ts";
import { lastToken } from "../columns.ts";
import { firstRejected, importDuplicateError, scheduleDuplicateError } from "../errors.ts";
import type { JobExportPage, JobExportParams, JobImportParams, JobImportStreamParams } from "../params.ts";
import { completedAt, type ImportResult, type JobRecord, type StoreSettings } from "../records.ts";
import { rowToCompletedRevision, rowToJobRecord } from "../rows.ts";
import { cancelIfDependencyEnded, lockDependenciesExclusive } from "./dependencies.ts";
import { INSERT_BATCH } from "./insert.ts";
import { queueLimitsSet } from "./limits.ts";
import { queueNotifySet } from "./webhooks.ts";

type Row = Record<string, unknown>;

/**
 * The columns of `jobs` a JobRecord is read from (see rowToJobRecord), with its completed
 * revisions and finished attempts as jsonb arrays. `state` and `attempts` are left to the
 * caller: export rewrites a running job's. Shared with the purge archive (archive.ts); a
 * constant without parameters, spliced into a query with `sql.unsafe`.
 */
export const JOB_RECORD_COLUMNS = `
  id, spec, revision, max_retries, created_at, updated_at, next_run_at, started_at, finished_at,
  exit_code, last_error, source, declared, canceled_by, schedule_id,
  COALESCE((SELECT jsonb_agg(revision ORDER BY revision COLLATE "C")
            FROM completed_revisions c WHERE c.job_id = jobs.id), '[]'::jsonb) AS completed,
  COALESCE((SELECT jsonb_agg(jsonb_build_object(
              'attempt', attempt, 'token', token, 'worker_id', worker_id, 'host', host,
              'started_at', started_at, 'finished_at', finished_at, 'exit_code', exit_code,
              'signal', signal, 'error', error, 'stdout_bytes', stdout_bytes,
              'stderr_bytes', stderr_bytes, 'log_path', log_path, 'output_tail', output_tail,
              'revision', revision) ORDER BY token)
            FROM attempts a WHERE a.job_id = jobs.id AND a.finished_at IS NOT NULL), '[]'::jsonb) AS history`;

/** A running job travels as pending with its unfinished attempt uncounted, as `jobRelease` would leave it. */
export async function exportJobs(sql: SQL, params: JobExportParams): Promise<JobExportPage> {
  const rows = (await sql`
    SELECT seq, ${sql.unsafe(JOB_RECORD_COLUMNS)}, progress_pct, progress_message, result,
           CASE WHEN jobs.state = 'processing' THEN 'pending' ELSE jobs.state END AS state,
           CASE WHEN jobs.state = 'processing' THEN GREATEST(jobs.attempts - 1, 0) ELSE jobs.attempts END
             AS attempts
    FROM jobs
    WHERE seq > ${params.after ?? "0"}::bigint AND (${params.state ?? null}::text IS NULL OR jobs.state = ${params.state ?? null}::text)
    ORDER BY seq LIMIT ${params.limit}::bigint`) as Row[];
  const jobs = rows.map(rowToJobRecord);
  const last = rows[rows.length - 1];
  return { jobs, next: rows.length < params.limit || !last ? null : String(last.seq) };
}

/** See Store.purgedRevisionList; in byte order, as SQLite's are. */
export async function purgedRevisionList(sql: SQL): Promise<CompletedRevisionOf[]> {
  const rows = (await sql`
    SELECT job_id, revision, completed_at FROM completed_revisions c
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = c.job_id)
    ORDER BY job_id COLLATE "C", revision COLLATE "C"`) as Row[];
  return rows.map(rowToCompletedRevision);
}

/** Inserts one batch; returns the jobs inserted (with `merge`, those whose id was new). */
async function importBatch(tx: SQL, jobs: JobRecord[], merge: boolean): Promise<JobRecord[]> {
  const column = <T>(pick: (job: JobRecord) => T): T[] => jobs.map(pick);
  const rows = await tx`
    INSERT INTO jobs (id, spec, revision, state, attempts, max_retries, priority, queue, tags, created_at,
                      updated_at, next_run_at, started_at, finished_at, exit_code, last_error, source, declared,
                      canceled_by, schedule_id, token, progress_pct, progress_message, result)
    SELECT id, spec::jsonb, revision, state, attempts, max_retries, priority, queue, tags::jsonb, created_at,
           updated_at, next_run_at, started_at, finished_at, exit_code, last_error, source, declared,
           canceled_by, schedule_id, token, progress_pct, progress_message, result
    FROM unnest(${column((job) => job.id)}::text[],
                ${column((job) => JSON.stringify(job.spec))}::text[],
                ${column((job) => job.revision)}::text[],
                ${column((job) => job.state)}::text[],
                ${column((job) => job.attempts)}::int[],
                ${column((job) => job.max_retries)}::int[],
                ${column((job) => job.spec.priority ?? 0)}::int[],
                ${column((job) => job.spec.queue ?? "default")}::text[],
                ${column((job) => JSON.stringify(job.spec.tags ?? []))}::text[],
                ${column((job) => job.created_at)}::bigint[],
                ${column((job) => job.updated_at)}::bigint[],
                ${column((job) => job.next_run_at)}::bigint[],
                ${column((job) => job.started_at)}::bigint[],
                ${column((job) => job.finished_at)}::bigint[],
                ${column((job) => job.exit_code)}::int[],
                ${column((job) => job.last_error?.replaceAll("\0", "\uFFFD") ?? null)}::text[],
                ${column((job) => job.source)}::text[],
                ${column((job) => job.declared)}::boolean[],
                ${column((job) => job.canceled_by)}::text[],
                ${column((job) => job.schedule_id)}::text[],
                ${column(lastToken)}::int[],
                ${column((job) => job.progress_pct ?? null)}::int[],
                ${column((job) => job.progress_message?.replaceAll("\0", "\uFFFD") ?? null)}::text[],
                ${column((job) => job.result ?? null)}::text[])
         WITH ORDINALITY AS u(id, spec, revision, state, attempts, max_retries, priority, queue, tags, created_at,
                              updated_at, next_run_at, started_at, finished_at, exit_code, last_error, source,
                              declared, canceled_by, schedule_id, token, progress_pct, progress_message, result, ord)
    -- An id is a job's or a schedule's, never both: one the store keeps as a schedule is taken,
    -- except by the history a jobfile job leaves when its file makes it a schedule (undeclared).
    WHERE NOT EXISTS (SELECT 1 FROM schedules s WHERE s.id = u.id)
       OR (NOT u.declared AND u.source IS NOT NULL)
    ORDER BY ord
    ON CONFLICT (id) DO NOTHING
    RETURNING id`;
  const ids = jobs.map((job) => job.id);
  const insertedIds = new Set<string>(rows.map((row: { id: string }) => row.id));
  const rejected = firstRejected(ids, insertedIds);
  if (rejected !== undefined && !merge) throw importDuplicateError(rejected);
  const inserted = jobs.filter((job) => insertedIds.has(job.id));
  const triples = inserted.flatMap((job) =>
    job.completed_revisions.map((revision) => [job.id, revision, completedAt(job, revision)] as const),
  );
  if (triples.length > 0) {
    await tx`
      INSERT INTO completed_revisions (job_id, revision, completed_at)
      SELECT * FROM unnest(${triples.map(([id]) => id)}::text[], ${triples.map(([, revision]) => revision)}::text[],
                           ${triples.map(([, , at]) => at)}::bigint[])
      ON CONFLICT DO NOTHING`;
  }
  await importAttempts(tx, inserted);
  return inserted;
}

async function importAttempts(tx: SQL, jobs: JobRecord[]): Promise<void> {
  const attempts = jobs.flatMap((job) =>
    job.attempt_history.map((attempt) => ({ job_id: job.id, ...attempt })),
  );
  if (attempts.length === 0) return;
  const column = <T>(pick: (attempt: (typeof attempts)[number]) => T): T[] => attempts.map(pick);
  // NUL cannot be stored in PostgreSQL text; SQLite kept it, so it is replaced as last_error is.
  const text = (value: string | null) => value?.replaceAll("\0", "\uFFFD") ?? null;
  await tx`
    INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, finished_at, exit_code, signal,
                          error, stdout_bytes, stderr_bytes, log_path, output_tail, revision)
    SELECT * FROM unnest(${column((a) => a.job_id)}::text[], ${column((a) => a.token)}::int[],
                         ${column((a) => a.attempt)}::int[], ${column((a) => a.worker_id)}::text[],
                         ${column((a) => a.host)}::text[], ${column((a) => a.started_at)}::bigint[],
                         ${column((a) => a.finished_at)}::bigint[], ${column((a) => a.exit_code)}::int[],
                         ${column((a) => a.signal)}::text[], ${column((a) => text(a.error))}::text[],
                         ${column((a) => a.stdout_bytes)}::bigint[], ${column((a) => a.stderr_bytes)}::bigint[],
                         ${column((a) => a.log_path)}::text[], ${column((a) => text(a.output_tail))}::text[],
                         ${column((a) => a.revision ?? null)}::text[])`;
}

/**
 * Config and queue settings replace the target's; a schedule that exists already is an error.
 * With `merge` the target keeps its config and queue settings whole, defaults included (a key
 * it never set is as much its config as one it did), and a schedule it has is skipped. What
 * the source remembered of purged jobs adds to what the target remembers, merge or not.
 * Returns schedules skipped; `written` collects the config keys and queue names written.
 */
async function importSettings(
  tx: SQL,
  settings: StoreSettings,
  merge: boolean,
  written: { config: Set<string>; queues: Set<string> },
): Promise<number> {
  if (!merge) {
    for (const [key, value] of Object.entries(settings.config)) {
      await tx`INSERT INTO config (key, value) VALUES (${key}, ${value})
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
      written.config.add(key);
    }
    for (const queue of settings.queues) {
      await tx`INSERT INTO queues (name, concurrency, paused)
               VALUES (${queue.name}, ${queue.concurrency}::int, ${queue.paused}::boolean)
               ON CONFLICT (name) DO UPDATE SET concurrency = EXCLUDED.concurrency, paused = EXCLUDED.paused`;
      // Webhooks and limits as `queue set` writes them; absent from older exports, left as they are.
      if (queue.notify !== undefined) await queueNotifySet(tx, { name: queue.name, notify: queue.notify });
      if (queue.limits !== undefined) await queueLimitsSet(tx, { name: queue.name, limits: queue.limits });
      written.queues.add(queue.name);
    }
  }
  let skipped = 0;
  for (const schedule of settings.schedules) {
    const inserted = await tx`
      INSERT INTO schedules (id, spec, revision, source, next_at, last_at, created_at, updated_at)
      SELECT ${schedule.id}, ${JSON.stringify(schedule.spec)}::text::jsonb, ${schedule.revision},
             ${schedule.source}::text, ${schedule.next_at}::bigint, ${schedule.last_at}::bigint,
             ${schedule.created_at}::bigint, ${schedule.updated_at}::bigint
      -- An id is a job's or a schedule's, never both: one the store keeps as a job is taken.
      WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = ${schedule.id})
      ON CONFLICT (id) DO NOTHING`;
    if (inserted.count > 0) continue;
    if (!merge) throw scheduleDuplicateError(schedule.id);
    skipped++;
  }
  const remembered = (settings.purged ?? []).flatMap(({ id, revisions }) =>
    revisions.map(({ revision, at }) => ({ id, revision, at })),
  );
  if (remembered.length > 0) {
    await tx`
      INSERT INTO completed_revisions (job_id, revision, completed_at)
      SELECT * FROM unnest(${remembered.map((r) => r.id)}::text[], ${remembered.map((r) => r.revision)}::text[],
                           ${remembered.map((r) => r.at)}::bigint[])
      ON CONFLICT DO NOTHING`;
  }
  return skipped;
}

/** Runs inside the caller's transaction, so a duplicate in a later batch undoes the earlier ones. */
export async function importJobs(tx: SQL, schema: string, params: JobImportParams): Promise<ImportResult> {
  const batches = [{ jobs: params.jobs, settings: params.settings }];
  return importJobStream(tx, schema, {
    batches: toAsync(batches),
    merge: params.merge,
    onProgress: params.onProgress,
    now: params.now,
  });
}

async function* toAsync<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/**
 * Writes an import batch by batch inside the caller's transaction, `INSERT_BATCH` rows per
 * statement; between batches it keeps only the dependency lists of the jobs that have them.
 */
export async function importJobStream(
  tx: SQL,
  schema: string,
  params: JobImportStreamParams,
): Promise<ImportResult> {
  const merge = params.merge ?? false;
  /** By id: a later line of the same id replaces the earlier one's (see sqlite/transfer.ts). */
  const edges = new Map<string, readonly string[]>();
  /** Imported jobs that have yet to run, by id, with what they wait for (import-waits.ts). */
  const waiting = new Map<string, string[]>();
  let jobsSeen = 0;
  let jobsImported = 0;
  /** Lines that replaced an earlier line of the same id (`merge`; see sqlite/transfer.ts). */
  let jobsReplaced = 0;
  let jobsSkippedAsOccurrences = 0;
  let schedulesSeen = 0;
  let schedulesSkipped = 0;
  const written = { config: new Set<string>(), queues: new Set<string>() };
  // The store's schedules before this input's: theirs are the occurrence ids (importedJobClaim).
  const schedulesBefore = new Map(
    ((await tx`SELECT id, revision FROM schedules`) as { id: string; revision: string }[]).map((row) => [
      row.id,
      row,
    ]),
  );
  for await (const { jobs, settings } of params.batches) {
    if (settings) {
      schedulesSkipped += await importSettings(tx, settings, merge, written);
      schedulesSeen += settings.schedules.length;
    }
    for (let start = 0; start < jobs.length; start += INSERT_BATCH) {
      const lines = jobs.slice(start, start + INSERT_BATCH).filter((job) => {
        const claim = importedJobClaim(job, (id) => schedulesBefore.get(id));
        if (claim && !merge) throw importClaimError(job.id, claim);
        if (claim) jobsSkippedAsOccurrences++;
        return claim === null;
      });
      const slice = merge ? lastLineOfEachId(lines) : lines;
      const inserted = await importBatch(tx, slice, merge);
      jobsImported += inserted.length;
      const replaced =
        merge && inserted.length < slice.length ? await replaceEarlierLines(tx, slice, inserted) : [];
      // Lines of an id that was written (anew or again) count as replaced but the one written;
      // those of an id the store kept are skipped, as SQLite counts them.
      const writtenIds = new Set([...inserted, ...replaced].map((job) => job.id));
      jobsReplaced +=
        replaced.length + lines.filter((job) => writtenIds.has(job.id)).length - writtenIds.size;
      for (const job of [...inserted, ...replaced]) {
        // Only jobs that wait are kept: a million imported jobs must not each hold an entry.
        if ((job.spec.after ?? []).length > 0) edges.set(job.id, job.spec.after ?? []);
        else edges.delete(job.id);
        if (waitsOnImport(job.state, job.spec.after)) waiting.set(job.id, job.spec.after ?? []);
        else waiting.delete(job.id);
      }
    }
    jobsSeen += jobs.length;
    params.onProgress?.(jobsSeen);
  }
  const pairs = [...edges].flatMap(([id, after]) =>
    after.map((dependency): [string, string] => [id, dependency]),
  );
  if (pairs.length > 0) await lockDependenciesExclusive(tx, schema);
  const named = [...new Set([...waiting.values()].flat())];
  const missing: { id: string }[] =
    named.length === 0
      ? []
      : await tx`SELECT d AS id FROM unnest(${named}::text[]) AS d WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = d)`;
  const missingDependencies = importWaits(waiting, new Set(missing.map((row) => row.id)));
  await importDependencies(tx, pairs);
  return {
    canceledAtOnce: await cancelWhereDependencyEnded(tx, waiting, params.now ?? Date.now()),
    jobsImported,
    jobsSkipped: jobsSeen - jobsImported - jobsReplaced,
    jobsSkippedAsOccurrences,
    schedulesImported: schedulesSeen - schedulesSkipped,
    schedulesSkipped,
    queuesImported: written.queues.size,
    configImported: written.config.size,
    missingDependencies,
  };
}

/**
 * Dependencies once every row is in, so the input may list a pipeline in any order. A
 * dependency that is not in the store (purged at the source) counts as done, as it does
 * for releaseDependents.
 */
/** Of lines giving the same id, the last: an archive appends a job again after each purge. */
function lastLineOfEachId(jobs: JobRecord[]): JobRecord[] {
  const last = new Map(jobs.map((job) => [job.id, job]));
  return last.size === jobs.length ? jobs : [...last.values()];
}

/**
 * With --merge, the store's own job wins, but a job an earlier batch of this input wrote is
 * replaced by the later line, as `show --archive` reads an archive. "Written by this import"
 * is a row this transaction inserted (its xmin): never a row another host committed
 * meanwhile, which a row number could not tell apart. Returns the jobs written again.
 */
async function replaceEarlierLines(tx: SQL, batch: JobRecord[], inserted: JobRecord[]): Promise<JobRecord[]> {
  const insertedIds = new Set(inserted.map((job) => job.id));
  const rest = batch.filter((job) => !insertedIds.has(job.id));
  const ours = (await tx`
    SELECT id FROM jobs WHERE id = ANY(${rest.map((job) => job.id)}::text[])
      AND xmin = (pg_current_xact_id()::text::bigint % 4294967296)::text::xid`) as { id: string }[];
  if (ours.length === 0) return [];
  const ids = ours.map((row) => row.id);
  await tx`DELETE FROM attempts WHERE job_id = ANY(${ids}::text[])`;
  await tx`DELETE FROM jobs WHERE id = ANY(${ids}::text[])`;
  const again = new Set(ids);
  return importBatch(
    tx,
    rest.filter((job) => again.has(job.id)),
    true,
  );
}

/** See sqlite/transfer.ts: waiting jobs whose dependency already ended are canceled at once. */
async function cancelWhereDependencyEnded(
  tx: SQL,
  waiting: ReadonlyMap<string, string[]>,
  now: number,
): Promise<[id: string, after: string[]][]> {
  if (waiting.size === 0) return [];
  const stuck = (await tx`
    SELECT DISTINCT d.job_id AS id FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
    WHERE d.job_id = ANY(${[...waiting.keys()]}::text[]) AND dep.state IN ('dead', 'canceled')`) as {
    id: string;
  }[];
  const canceled: [id: string, after: string[]][] = [];
  for (const { id } of stuck) {
    if (await cancelIfDependencyEnded(tx, id, now)) canceled.push([id, waiting.get(id) ?? []]);
  }
  return canceled;
}

async function importDependencies(tx: SQL, edges: [id: string, dependency: string][]): Promise<void> {
  if (edges.length === 0) return;
  await tx`
    INSERT INTO job_deps (job_id, depends_on)
    SELECT * FROM unnest(${edges.map(([id]) => id)}::text[], ${edges.map(([, dependency]) => dependency)}::text[])
    ON CONFLICT DO NOTHING`;
  await tx`
    UPDATE jobs SET blocked = EXISTS (
      SELECT 1 FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
      WHERE d.job_id = jobs.id AND dep.state <> 'completed')
    WHERE id = ANY(${[...new Set(edges.map(([id]) => id))]}::text[])`;
}
