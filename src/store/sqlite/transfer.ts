/**
 * Moving a queue in and out of SQLite: `export` reads pages of JobRecords, `import`
 * writes them back with their state and attempt history, and the settings with them,
 * inside the caller's IMMEDIATE transaction. `--merge` skips ids the store already has.
 */

import type { Database } from "bun:sqlite";
import { importWaits, waitsOnImport } from "../../core/import-waits.ts";
import { importClaimError, importedJobClaim } from "../../core/occurrence-id.ts";
import type { CompletedRevisionOf } from "../../core/reconcile.ts";
import { lastToken } from "../columns.ts";
import { importDuplicateError, scheduleDuplicateError } from "../errors.ts";
import type { JobExportPage, JobExportParams, JobImportParams, JobImportStreamParams } from "../params.ts";
import {
  completedAt,
  type ImportBatch,
  type ImportResult,
  type JobRecord,
  type StoreSettings,
} from "../records.ts";
import { rowToCompletedRevision, rowToJobRecord } from "../rows.ts";
import { cancelIfDependencyEnded } from "./dependencies.ts";
import { queueLimitsSet } from "./limits.ts";
import { queueNotifySet } from "./webhooks.ts";

type Row = Record<string, unknown>;

/** Jobs between two progress reports. */
const PROGRESS_EVERY = 5000;

/**
 * The columns of `jobs` a JobRecord is read from (see rowToJobRecord), with its completed
 * revisions and finished attempts as JSON arrays. `state` and `attempts` are left to the
 * caller: export rewrites a running job's. Shared with the purge archive (archive.ts).
 */
export const JOB_RECORD_COLUMNS = `
  id, spec, revision, max_retries, created_at, updated_at, next_run_at, started_at,
  finished_at, exit_code, last_error, source, declared, canceled_by, schedule_id,
  (SELECT json_group_array(revision) FROM completed_revisions c WHERE c.job_id = jobs.id) AS completed,
  (SELECT json_group_array(json_object(
            'attempt', attempt, 'token', token, 'worker_id', worker_id, 'host', host,
            'started_at', started_at, 'finished_at', finished_at, 'exit_code', exit_code,
            'signal', signal, 'error', error, 'stdout_bytes', stdout_bytes,
            'stderr_bytes', stderr_bytes, 'log_path', log_path, 'output_tail', output_tail,
            'revision', revision))
   FROM attempts a WHERE a.job_id = jobs.id AND a.finished_at IS NOT NULL) AS history`;

/**
 * A running job travels as pending with its unfinished attempt uncounted, as
 * `jobRelease` would leave it: the run never finished, so the new store runs it again.
 */
export function exportJobs(db: Database, params: JobExportParams): JobExportPage {
  const rows = db
    .query(`
      SELECT seq, ${JOB_RECORD_COLUMNS}, progress_pct, progress_message, result,
             CASE WHEN jobs.state = 'processing' THEN 'pending' ELSE jobs.state END AS state,
             CASE WHEN jobs.state = 'processing' THEN MAX(jobs.attempts - 1, 0) ELSE jobs.attempts END AS attempts
      FROM jobs
      WHERE seq > ?1 AND (?2 IS NULL OR jobs.state = ?2)
      ORDER BY seq LIMIT ?3`)
    .all(Number(params.after ?? 0), params.state ?? null, params.limit) as Row[];
  const jobs = rows.map(rowToJobRecord);
  const last = rows[rows.length - 1];
  return { jobs, next: rows.length < params.limit || !last ? null : String(last.seq) };
}

/** See Store.purgedRevisionList; in byte order, as PostgreSQL's are. */
export function purgedRevisionList(db: Database): CompletedRevisionOf[] {
  return (
    db
      .query(`
        SELECT job_id, revision, completed_at FROM completed_revisions c
        WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = c.job_id) ORDER BY job_id, revision`)
      .all() as Row[]
  ).map(rowToCompletedRevision);
}

/**
 * Config and queue settings replace the target's; a schedule that exists already is an error.
 * With `merge` the target keeps its config and queue settings whole, defaults included (a key
 * it never set is as much its config as one it did), and a schedule it has is skipped. What
 * the source remembered of purged jobs adds to what the target remembers, merge or not.
 */
function importSettings(
  db: Database,
  settings: StoreSettings,
  merge: boolean,
  written: SettingsWritten,
): number {
  if (!merge) {
    const config = db.query(
      "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    for (const [key, value] of Object.entries(settings.config)) {
      config.run(key, value);
      written.config.add(key);
    }
    const queue = db.query(`
      INSERT INTO queues (name, concurrency, paused) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, paused = excluded.paused`);
    for (const q of settings.queues) {
      queue.run(q.name, q.concurrency, q.paused ? 1 : 0);
      // Webhooks and limits as `queue set` writes them; absent from older exports, left as they are.
      if (q.notify !== undefined) queueNotifySet(db, { name: q.name, notify: q.notify });
      if (q.limits !== undefined) queueLimitsSet(db, { name: q.name, limits: q.limits });
      written.queues.add(q.name);
    }
  }
  const schedule = db.query(`
    INSERT INTO schedules (id, spec, revision, source, next_at, last_at, created_at, updated_at)
    SELECT ?, ?, ?, ?, ?, ?, ?, ?
    -- An id is a job's or a schedule's, never both: one the store keeps as a job is taken.
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = ?1)
    ON CONFLICT (id) DO NOTHING`);
  let skipped = 0;
  for (const s of settings.schedules) {
    const values = [
      s.id,
      JSON.stringify(s.spec),
      s.revision,
      s.source,
      s.next_at,
      s.last_at,
      s.created_at,
      s.updated_at,
    ];
    if (schedule.run(...values).changes > 0) continue;
    if (!merge) throw scheduleDuplicateError(s.id);
    skipped++;
  }
  const remember = db.query(
    "INSERT OR IGNORE INTO completed_revisions (job_id, revision, completed_at) VALUES (?, ?, ?)",
  );
  for (const { id, revisions } of settings.purged ?? []) {
    for (const { revision, at } of revisions) remember.run(id, revision, at);
  }
  return skipped;
}

/** Config keys and queue names an import wrote, each counted once however often the input repeats it. */
interface SettingsWritten {
  config: Set<string>;
  queues: Set<string>;
}

export function importJobs(db: Database, params: JobImportParams): ImportResult {
  const importer = new JobImporter(db, params.merge ?? false);
  importer.add({ jobs: [], settings: params.settings });
  for (let start = 0; start < params.jobs.length; start += PROGRESS_EVERY) {
    importer.add({ jobs: params.jobs.slice(start, start + PROGRESS_EVERY) });
    params.onProgress?.(importer.jobsSeen);
  }
  if (params.jobs.length === 0) params.onProgress?.(0);
  return importer.finish(params.now ?? Date.now());
}

/** importJobs for input that streams in batches, inside the caller's held-open transaction. */
export async function importJobStream(db: Database, params: JobImportStreamParams): Promise<ImportResult> {
  const importer = new JobImporter(db, params.merge ?? false);
  for await (const batch of params.batches) {
    importer.add(batch);
    params.onProgress?.(importer.jobsSeen);
  }
  return importer.finish(params.now ?? Date.now());
}

/**
 * Writes an import batch by batch inside the caller's IMMEDIATE transaction. Only the ids
 * and dependency lists of jobs that have dependencies are kept between batches, so a
 * streamed import of a million jobs holds one batch at a time.
 */
class JobImporter {
  jobsSeen = 0;
  private jobsImported = 0;
  private schedulesSeen = 0;
  private schedulesSkipped = 0;
  private readonly written: SettingsWritten = { config: new Set(), queues: new Set() };
  /** By id: a later line of the same id (an archive's newer copy) replaces the earlier one's. */
  private readonly dependencies = new Map<string, string[]>();
  /** Lines that replaced an earlier line of the same id (`merge`); neither imported anew nor skipped. */
  private jobsReplaced = 0;
  /** Jobs skipped (`merge`) as occurrences of the store's schedules. */
  private jobsSkippedAsOccurrences = 0;
  /** The highest row number before this import: a row above it came from this input. */
  private readonly seqBefore: number;
  /** Imported jobs that have yet to run, by id, with what they wait for (import-waits.ts). */
  private readonly waiting = new Map<string, string[]>();
  /** The store's schedules before this input's: theirs are the occurrence ids (importedJobClaim). */
  private readonly schedulesBefore: Map<string, { revision: string }>;
  private readonly insert;
  private readonly completed;
  private readonly attempt;

  constructor(
    private readonly db: Database,
    private readonly merge: boolean,
  ) {
    this.seqBefore = Number((db.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM jobs").get() as Row).seq);
    this.schedulesBefore = new Map(
      (db.query("SELECT id, revision FROM schedules").all() as { id: string; revision: string }[]).map(
        (row) => [row.id, row],
      ),
    );
    this.insert = db.query(`
      INSERT INTO jobs (id, spec, revision, state, attempts, max_retries, priority, queue, tags, created_at,
                        updated_at, next_run_at, started_at, finished_at, exit_code, last_error, source, declared,
                        canceled_by, schedule_id, token, progress_pct, progress_message, result)
      SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
      -- An id is a job's or a schedule's, never both: one the store keeps as a schedule is taken,
      -- except by the history a jobfile job leaves when its file makes it a schedule (undeclared).
      WHERE NOT EXISTS (SELECT 1 FROM schedules WHERE id = ?) OR (? = 0 AND ? IS NOT NULL)
      ON CONFLICT (id) DO NOTHING`);
    this.completed = db.query(
      "INSERT OR IGNORE INTO completed_revisions (job_id, revision, completed_at) VALUES (?, ?, ?)",
    );
    this.attempt = db.query(`
      INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, finished_at, exit_code, signal,
                            error, stdout_bytes, stderr_bytes, log_path, output_tail, revision)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  add(batch: ImportBatch): void {
    if (batch.settings) {
      this.schedulesSkipped += importSettings(this.db, batch.settings, this.merge, this.written);
      this.schedulesSeen += batch.settings.schedules.length;
    }
    for (const job of batch.jobs) this.addJob(job);
  }

  private addJob(job: JobRecord): void {
    this.jobsSeen++;
    const claim = importedJobClaim(job, (id) => this.schedulesBefore.get(id));
    if (claim) {
      if (!this.merge) throw importClaimError(job.id, claim);
      this.jobsSkippedAsOccurrences++;
      return;
    }
    let changes = this.insertRow(job);
    // With --merge, the store's own job wins, but of two lines of this input (an archive a job
    // was appended to twice), the later one does, as `show --archive` reads an archive.
    const replaces = changes === 0 && this.merge && this.fromThisInput(job.id);
    if (replaces) {
      this.db.query("DELETE FROM attempts WHERE job_id = ?").run(job.id);
      this.db.query("DELETE FROM jobs WHERE id = ?").run(job.id);
      changes = this.insertRow(job);
    }
    if (changes === 0) {
      if (!this.merge) throw importDuplicateError(job.id);
      return;
    }
    if (replaces) this.jobsReplaced++;
    else this.jobsImported++;
    this.addHistory(job);
  }

  private fromThisInput(id: string): boolean {
    const row = this.db.query("SELECT seq FROM jobs WHERE id = ?").get(id) as Row | null;
    return row !== null && Number(row.seq) > this.seqBefore;
  }

  private insertRow(job: JobRecord): number {
    return this.insert.run(
      job.id,
      JSON.stringify(job.spec),
      job.revision,
      job.state,
      job.attempts,
      job.max_retries,
      job.spec.priority ?? 0,
      job.spec.queue ?? "default",
      JSON.stringify(job.spec.tags ?? []),
      job.created_at,
      job.updated_at,
      job.next_run_at,
      job.started_at,
      job.finished_at,
      job.exit_code,
      job.last_error,
      job.source,
      job.declared ? 1 : 0,
      job.canceled_by,
      job.schedule_id,
      lastToken(job),
      // Only an archive's lines carry these; export's leave them out.
      job.progress_pct ?? null,
      job.progress_message ?? null,
      job.result ?? null,
      job.id,
      job.declared ? 1 : 0,
      job.source,
    ).changes;
  }

  private addHistory(job: JobRecord): void {
    for (const revision of job.completed_revisions)
      this.completed.run(job.id, revision, completedAt(job, revision));
    for (const a of job.attempt_history) {
      this.attempt.run(
        job.id,
        a.token,
        a.attempt,
        a.worker_id,
        a.host,
        a.started_at,
        a.finished_at,
        a.exit_code,
        a.signal,
        a.error,
        a.stdout_bytes,
        a.stderr_bytes,
        a.log_path,
        a.output_tail,
        a.revision ?? null,
      );
    }
    if (job.spec.after && job.spec.after.length > 0) this.dependencies.set(job.id, job.spec.after);
    else this.dependencies.delete(job.id);
    if (waitsOnImport(job.state, job.spec.after)) this.waiting.set(job.id, job.spec.after ?? []);
    else this.waiting.delete(job.id);
  }

  /**
   * Dependencies once every row is in, so the input may list a pipeline in any order. A
   * dependency that is not in the store (purged at the source) counts as done, as it does for
   * releaseDependents; those of jobs that have yet to run are reported, and such jobs may not
   * wait for each other in a cycle (import-waits.ts).
   */
  finish(now: number): ImportResult {
    const named = [...new Set([...this.waiting.values()].flat())];
    const missing =
      named.length === 0
        ? []
        : (this.db
            .query("SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM jobs)")
            .all(JSON.stringify(named)) as { value: string }[]);
    const missingDependencies = importWaits(this.waiting, new Set(missing.map((row) => row.value)));
    const depend = this.db.query(
      "INSERT OR IGNORE INTO job_deps (job_id, depends_on) SELECT ?, value FROM json_each(?)",
    );
    const block = this.db.query(`
      UPDATE jobs SET blocked = EXISTS (
        SELECT 1 FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on WHERE d.job_id = jobs.id AND dep.state <> 'completed')
      WHERE id = ?`);
    for (const [id, after] of this.dependencies) {
      depend.run(id, JSON.stringify(after));
      block.run(id);
    }
    return {
      canceledAtOnce: this.cancelWhereDependencyEnded(now),
      jobsImported: this.jobsImported,
      jobsSkipped: this.jobsSeen - this.jobsImported - this.jobsReplaced,
      jobsSkippedAsOccurrences: this.jobsSkippedAsOccurrences,
      schedulesImported: this.schedulesSeen - this.schedulesSkipped,
      schedulesSkipped: this.schedulesSkipped,
      queuesImported: this.written.queues.size,
      configImported: this.written.config.size,
      missingDependencies,
    };
  }

  /** Waiting jobs whose dependency already ended dead or canceled: canceled at once, not left waiting. */
  private cancelWhereDependencyEnded(now: number): [id: string, after: string[]][] {
    if (this.waiting.size === 0) return [];
    const stuck = this.db
      .query(`
        SELECT DISTINCT d.job_id AS id FROM job_deps d JOIN jobs dep ON dep.id = d.depends_on
        WHERE d.job_id IN (SELECT value FROM json_each(?)) AND dep.state IN ('dead', 'canceled')`)
      .all(JSON.stringify([...this.waiting.keys()])) as { id: string }[];
    return stuck
      .filter(({ id }) => cancelIfDependencyEnded(this.db, id, now))
      .map(({ id }) => [id, this.waiting.get(id) ?? []]);
  }
}
