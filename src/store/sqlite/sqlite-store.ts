/**
 * The embedded SQLite backend (bun:sqlite). One file, WAL mode, no server.
 *
 * Claims rely on SQLite's single writer: `BEGIN IMMEDIATE` takes the write lock first, so
 * the `UPDATE … WHERE seq = (SELECT … LIMIT 1) RETURNING` cannot race another claimer.
 * PostgreSQL reaches the same guarantee with `FOR UPDATE SKIP LOCKED`.
 */

import { Database } from "bun:sqlite";
import { chmodSync, statSync } from "node:fs";
import { emptyStateCounts, type Job, type JobState, type StateCounts } from "../../core/job.ts";
import type { JobSpec } from "../../core/spec.ts";
import { rowToAttempt, rowToJob, rowToWorker } from "../rows.ts";
import type {
  DeclaredJob,
  JobDeclaration,
  JobfileApplyResult,
  JobfileChanges,
  JobRecord,
  JobSearchParams,
  NewJob,
  QueueInfo,
  RunResult,
  ScheduleRecord,
  Store,
  StoreSettings,
  ThroughputBucket,
  WorkerRecord,
} from "../store.ts";
import { cancelDependents, rearmDependents, releaseDependents, setDependencies } from "./dependencies.ts";
import { exportJobs, importJobs } from "./import.ts";
import { duplicateIdError, insertValues } from "./insert.ts";
import { searchJobs } from "./job-search.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { jobDeclarations } from "./jobfile-declarations.ts";
import { attemptThroughput, metricsSnapshot } from "./metrics.ts";
import { migrateSqlite } from "./migrations.ts";
import { jobPurge, queueList, queueSet } from "./queues.ts";
import { scheduleFire, scheduleGet, scheduleList, scheduleRemove, scheduleUpsert } from "./schedules.ts";
import { assertSameFile, fileIdentity, translateSqliteError } from "./sqlite-errors.ts";

type Row = Record<string, unknown>;

/** How often an idle worker checks SQLite's data_version for commits by other processes. */
const CHANGE_POLL_MS = 20;

export interface SqliteOptions {
  /**
   * `FULL` makes every commit durable across an OS crash; `NORMAL` (default for workers)
   * survives any process crash and may lose the last commits on power loss. Default FULL.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a writer waits for the lock before giving up, in ms. Default 15000. */
  busyTimeoutMs?: number;
}

export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly location: string;
  private readonly db: Database;
  /** The file as opened (device and inode), to notice it being deleted or replaced. */
  private readonly identity: string | null;

  constructor(path: string, options: SqliteOptions = {}) {
    this.location = path;
    this.db = translateSqliteError(path, () => {
      const db = new Database(path, { create: true, strict: true });
      try {
        // Tighten only: a file the user made read-only (0400) stays read-only.
        const mode = statSync(path).mode & 0o777;
        if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700);
      } catch {
        // A read-only file system or someone else's file: opening still tells the truth below.
      }
      db.run(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 15_000}`);
      db.run("PRAGMA journal_mode = WAL");
      db.run(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
      db.run("PRAGMA foreign_keys = ON");
      // 16 MB of page cache keeps the claim index and hot rows of a 100k-job queue in memory.
      db.run("PRAGMA cache_size = -16000");
      migrateSqlite(db, path);
      return db;
    });
    this.identity = fileIdentity(path);
  }

  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(translateSqliteError(this.location, work));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private write<T>(work: () => T): Promise<T> {
    return this.run(() => {
      assertSameFile(this.location, this.identity);
      return this.db.transaction(work).immediate();
    });
  }

  async close(): Promise<void> {
    this.db.close(false);
  }

  jobInsertMany(params: { jobs: NewJob[]; now: number; onProgress?: (done: number) => void }): Promise<void> {
    const insert = this.db.query(`
      INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                        next_run_at, source, declared)
      VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO NOTHING`);
    return this.write(() => {
      let done = 0;
      // Dependencies are recorded after every row exists, so a batch may list a pipeline in any order.
      const withDependencies: NewJob[] = [];
      for (const job of params.jobs) {
        const changes = insert.run(...insertValues(job, params.now)).changes;
        if (changes === 0) throw duplicateIdError(job.spec.id);
        if (job.spec.after) withDependencies.push(job);
        done++;
        if (params.onProgress && done % 5000 === 0) params.onProgress(done);
      }
      for (const job of withDependencies) setDependencies(this.db, job.spec.id, job.spec.after, params.now);
      params.onProgress?.(done);
    });
  }

  jobExport(params: { state?: JobState; after: string | null; limit: number }) {
    return this.run(() => exportJobs(this.db, params));
  }

  jobImportMany(params: {
    jobs: JobRecord[];
    settings?: StoreSettings;
    onProgress?: (done: number) => void;
  }) {
    return this.write(() => importJobs(this.db, params));
  }

  jobGet(params: { id: string }): Promise<Job | null> {
    return this.run(() => {
      const row = this.db.query("SELECT * FROM jobs WHERE id = ?").get(params.id) as Row | null;
      return row ? rowToJob(row) : null;
    });
  }

  jobList(params: {
    state?: JobState;
    tag?: string;
    queue?: string;
    limit?: number;
    offset?: number;
  }): Promise<Job[]> {
    return this.run(() => {
      const rows = this.db
        .query(`
          SELECT * FROM jobs
          WHERE (?1 IS NULL OR state = ?1)
            AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?2))
            AND (?3 IS NULL OR queue = ?3)
          ORDER BY seq LIMIT ?4 OFFSET ?5`)
        .all(
          params.state ?? null,
          params.tag ?? null,
          params.queue ?? null,
          params.limit ?? -1,
          params.offset ?? 0,
        );
      return (rows as Row[]).map(rowToJob);
    });
  }

  jobCounts(): Promise<StateCounts> {
    return this.run(() => {
      const counts = emptyStateCounts();
      const rows = this.db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as Row[];
      for (const row of rows) {
        counts[row.state as JobState] = Number(row.n);
        counts.total += Number(row.n);
      }
      return counts;
    });
  }

  jobClaim(params: {
    workerId: string;
    host: string;
    now: number;
    leaseMs: number;
    queues?: string[] | null;
  }) {
    const claim = this.db.query(`
      UPDATE jobs SET state = 'processing', attempts = attempts + 1, token = token + 1, worker_id = ?1,
                      lease_until = ?2, started_at = ?3, updated_at = ?3, finished_at = NULL
      WHERE seq = (
        -- INDEXED BY: left alone, the planner prefers jobs_state and sorts every candidate
        -- (about 70 claims/s on a 100k-job table instead of thousands).
        -- Queue limits are enforced here, inside the write lock, so no two claims can both
        -- take the last free slot of a queue.
        SELECT seq FROM jobs INDEXED BY jobs_claim
        WHERE state IN ('pending', 'failed') AND blocked = 0 AND next_run_at <= ?3
          AND (?4 IS NULL OR queue IN (SELECT value FROM json_each(?4)))
          AND queue NOT IN (
            SELECT name FROM queues
            WHERE paused = 1 OR (concurrency IS NOT NULL AND concurrency <= (
              SELECT COUNT(*) FROM jobs AS running WHERE running.queue = queues.name AND running.state = 'processing')))
        ORDER BY priority DESC, next_run_at, seq LIMIT 1)
      RETURNING *`);
    const recordAttempt = this.db.query(`
      INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at) VALUES (?, ?, ?, ?, ?, ?)`);
    const queues = params.queues ? JSON.stringify(params.queues) : null;
    return this.write(() => {
      const row = claim.get(params.workerId, params.now + params.leaseMs, params.now, queues) as Row | null;
      if (!row) return null;
      const job = rowToJob(row);
      recordAttempt.run(job.id, job.token, job.attempts, params.workerId, params.host, params.now);
      return job;
    });
  }

  jobLeaseExtend(params: { id: string; token: number; leaseUntil: number }): Promise<boolean> {
    return this.write(() => {
      const result = this.db
        .query("UPDATE jobs SET lease_until = ? WHERE id = ? AND token = ? AND state = 'processing'")
        .run(params.leaseUntil, params.id, params.token);
      return result.changes > 0;
    });
  }

  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean> {
    return this.write(() => {
      const row = this.db
        .query(`
          UPDATE jobs SET state = 'completed', finished_at = ?1, updated_at = ?1, lease_until = NULL,
                          exit_code = ?2, last_error = NULL
          WHERE id = ?3 AND token = ?4 AND state = 'processing'
          RETURNING revision, source IS NOT NULL AS declared, next_spec IS NOT NULL AS has_next`)
        .get(params.now, params.result.exitCode, params.id, params.token) as Row | null;
      if (!row) return false;
      // Only jobfile reconciliation asks which revisions completed; ad hoc jobs skip the write.
      if (row.declared) {
        this.db
          .query("INSERT OR IGNORE INTO completed_revisions (job_id, revision) VALUES (?, ?)")
          .run(params.id, String(row.revision));
      }
      this.finishAttempt(params.id, params.token, params.now, params.result);
      releaseDependents(this.db, params.id, params.now);
      if (row.has_next) this.promoteNextRevision(params.id, params.now);
      return true;
    });
  }

  jobFail(params: {
    id: string;
    token: number;
    now: number;
    state: "failed" | "dead";
    nextRunAt: number;
    result: RunResult;
    onlyIfLeaseExpiredBefore?: number;
  }): Promise<boolean> {
    return this.write(() => {
      const changed = this.db
        .query(`
          UPDATE jobs SET state = ?1, next_run_at = ?2, updated_at = ?3, lease_until = NULL,
                          finished_at = CASE WHEN ?1 = 'dead' THEN ?3 ELSE NULL END,
                          exit_code = ?4, last_error = ?5
          WHERE id = ?6 AND token = ?7 AND state = 'processing' AND (?8 IS NULL OR lease_until < ?8)`)
        .run(
          params.state,
          params.nextRunAt,
          params.now,
          params.result.exitCode,
          params.result.error,
          params.id,
          params.token,
          params.onlyIfLeaseExpiredBefore ?? null,
        ).changes;
      if (changed === 0) return false;
      this.finishAttempt(params.id, params.token, params.now, params.result);
      // Its jobfile was removed while it ran: the run was allowed to finish, not to be retried.
      const undeclared = this.db
        .query(`
          UPDATE jobs SET state = 'canceled', finished_at = ?1,
                          last_error = last_error || ' (not retried: its jobfile was removed)'
          WHERE id = ?2 AND state = 'failed' AND source IS NOT NULL AND declared = 0 AND next_spec IS NULL`)
        .run(params.now, params.id).changes;
      if (params.state === "dead" || undeclared > 0) {
        cancelDependents(this.db, params.id, params.state === "dead" ? "dead" : "canceled", params.now);
      }
      this.promoteNextRevision(params.id, params.now);
      return true;
    });
  }

  jobRelease(params: { id: string; token: number; now: number; reason: string }): Promise<boolean> {
    return this.write(() => {
      const changed = this.db
        .query(`
          UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_until = NULL, worker_id = NULL,
                          updated_at = ?1, next_run_at = ?1
          WHERE id = ?2 AND token = ?3 AND state = 'processing'`)
        .run(params.now, params.id, params.token).changes;
      if (changed === 0) return false;
      this.db
        .query("UPDATE attempts SET finished_at = ?, error = ? WHERE job_id = ? AND token = ?")
        .run(params.now, params.reason, params.id, params.token);
      this.promoteNextRevision(params.id, params.now);
      return true;
    });
  }

  jobExpiredLeases(params: { now: number; limit: number }): Promise<Job[]> {
    return this.run(() =>
      (
        this.db
          .query(
            "SELECT * FROM jobs WHERE state = 'processing' AND lease_until < ? ORDER BY lease_until LIMIT ?",
          )
          .all(params.now, params.limit) as Row[]
      ).map(rowToJob),
    );
  }

  jobTransition(params: {
    id?: string;
    from: readonly JobState[];
    to: "pending" | "canceled";
    resetAttempts: boolean;
    now: number;
    reason?: string;
  }): Promise<Job[]> {
    return this.write(() => {
      const rows = this.db
        .query(`
          UPDATE jobs SET state = ?1, updated_at = ?2,
                          attempts = CASE WHEN ?3 THEN 0 ELSE attempts END,
                          next_run_at = CASE WHEN ?1 = 'pending' THEN ?2 ELSE next_run_at END,
                          finished_at = CASE WHEN ?1 = 'canceled' THEN ?2 ELSE NULL END,
                          -- A job queued again starts clean; its history stays in the attempts table.
                          last_error = CASE WHEN ?1 = 'pending' THEN NULL ELSE COALESCE(?6, last_error) END,
                          exit_code = CASE WHEN ?1 = 'pending' THEN NULL ELSE exit_code END
          WHERE (?4 IS NULL OR id = ?4) AND state IN (SELECT value FROM json_each(?5))
          RETURNING *`)
        .all(
          params.to,
          params.now,
          params.resetAttempts ? 1 : 0,
          params.id ?? null,
          JSON.stringify(params.from),
          params.reason ?? null,
        );
      const moved = (rows as Row[]).map(rowToJob);
      for (const job of moved) {
        if (params.to === "canceled") {
          cancelDependents(this.db, job.id, "canceled", params.now);
        } else {
          rearmDependents(this.db, job.id, params.now);
          setDependencies(this.db, job.id, job.spec.after, params.now);
        }
      }
      return moved;
    });
  }

  attemptList(params: { jobId: string }) {
    return this.run(() =>
      (
        this.db.query("SELECT * FROM attempts WHERE job_id = ? ORDER BY token").all(params.jobId) as Row[]
      ).map(rowToAttempt),
    );
  }

  configGetAll(): Promise<Record<string, string>> {
    return this.run(() => {
      const rows = this.db.query("SELECT key, value FROM config").all() as { key: string; value: string }[];
      return Object.fromEntries(rows.map((row) => [row.key, row.value]));
    });
  }

  configSet(params: { key: string; value: string }): Promise<void> {
    return this.write(() => {
      this.db
        .query(
          "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(params.key, params.value);
    });
  }

  workerRegister(params: { id: string; host: string; pid: number; now: number; queues: string[] | null }) {
    return this.write(() => {
      this.db
        .query(`INSERT OR REPLACE INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
                VALUES (?, ?, ?, ?, ?, 0, ?)`)
        .run(
          params.id,
          params.host,
          params.pid,
          params.now,
          params.now,
          params.queues ? JSON.stringify(params.queues) : null,
        );
    });
  }

  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }> {
    return this.write(() => {
      const row = this.db
        .query("UPDATE workers SET heartbeat_at = ? WHERE id = ? RETURNING stop_requested")
        .get(params.now, params.id) as Row | null;
      return { stopRequested: row ? Boolean(row.stop_requested) : false };
    });
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.write(() => {
      this.db.query("DELETE FROM workers WHERE id = ?").run(params.id);
    });
  }

  workerList(): Promise<WorkerRecord[]> {
    return this.run(() =>
      (this.db.query("SELECT * FROM workers ORDER BY host, started_at").all() as Row[]).map(rowToWorker),
    );
  }

  workerRequestStop(params: { host?: string }): Promise<number> {
    return this.write(
      () =>
        this.db
          .query("UPDATE workers SET stop_requested = 1 WHERE ?1 IS NULL OR host = ?1")
          .run(params.host ?? null).changes,
    );
  }

  declaredList(): Promise<DeclaredJob[]> {
    return this.run(() =>
      (
        this.db
          .query("SELECT id, source, revision, state, declared FROM jobs WHERE source IS NOT NULL")
          .all() as Row[]
      ).map((row) => ({
        id: String(row.id),
        source: String(row.source),
        revision: String(row.revision),
        state: row.state as JobState,
        declared: Boolean(row.declared),
      })),
    );
  }

  jobfileApply(params: { changes: JobfileChanges; now: number }): Promise<JobfileApplyResult> {
    return this.write(() => applyJobfileChanges(this.db, params.changes, params.now));
  }

  jobDeclarations(params: { ids: string[] }): Promise<JobDeclaration[]> {
    return this.run(() => jobDeclarations(this.db, params.ids));
  }

  changeMarker(): Promise<string> {
    // data_version changes when another connection commits; cheap, no table read.
    return this.run(() => String((this.db.query("PRAGMA data_version").get() as Row).data_version));
  }

  async waitForChange(params: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    // SQLite has no notifications; data_version is a cheap in-memory check, so polling it
    // every few ms wakes an idle worker fast while costing well under 1% of a core.
    const deadline = Date.now() + params.timeoutMs;
    const start = await this.changeMarker();
    while (Date.now() < deadline && !params.signal?.aborted) {
      await Bun.sleep(Math.min(CHANGE_POLL_MS, Math.max(0, deadline - Date.now())));
      if ((await this.changeMarker()) !== start) return;
    }
  }

  jobSearch(params: JobSearchParams): Promise<Job[]> {
    return this.run(() => searchJobs(this.db, params));
  }

  attemptThroughput(params: { since: number; bucketMs: number }): Promise<ThroughputBucket[]> {
    return this.run(() => attemptThroughput(this.db, params.since, params.bucketMs));
  }

  metricsSnapshot(params: { now: number; durationBoundsMs: number[]; waitBoundsMs: number[] }) {
    return this.run(() => metricsSnapshot(this.db, params.now, params.durationBoundsMs, params.waitBoundsMs));
  }

  queueSet(params: { name: string; concurrency?: number | null; paused?: boolean }): Promise<void> {
    return this.write(() => queueSet(this.db, params));
  }

  queueList(): Promise<QueueInfo[]> {
    return this.run(() => queueList(this.db));
  }

  jobPurge(params: { states: JobState[]; finishedBefore: number; dryRun: boolean }): Promise<string[]> {
    return this.write(() => jobPurge(this.db, params));
  }

  scheduleUpsert(params: {
    id: string;
    spec: JobSpec;
    revision: string;
    source: string | null;
    nextAt: number | null;
    now: number;
  }): Promise<"created" | "updated" | "unchanged"> {
    return this.write(() => scheduleUpsert(this.db, params));
  }

  scheduleGet(params: { id: string }): Promise<ScheduleRecord | null> {
    return this.run(() => scheduleGet(this.db, params.id));
  }

  scheduleList(): Promise<ScheduleRecord[]> {
    return this.run(() => scheduleList(this.db));
  }

  scheduleRemove(params: { id: string }): Promise<boolean> {
    return this.write(() => scheduleRemove(this.db, params.id));
  }

  scheduleDue(params: { now: number }): Promise<ScheduleRecord[]> {
    return this.run(() => scheduleList(this.db, params.now));
  }

  scheduleFire(params: {
    id: string;
    expectedNextAt: number;
    nextAt: number | null;
    occurrences: NewJob[];
    overlap: "allow" | "skip" | "replace";
    now: number;
  }): Promise<{ enqueued: string[]; skipped: string[]; replaced: string[] }> {
    return this.write(() => scheduleFire(this.db, params));
  }

  /** Raw access for crash-repair tests that must write a crashed state directly. */
  get database(): Database {
    return this.db;
  }

  private finishAttempt(id: string, token: number, now: number, result: RunResult): void {
    this.db
      .query(`
        UPDATE attempts SET finished_at = ?, exit_code = ?, signal = ?, error = ?, stdout_bytes = ?, stderr_bytes = ?,
                            log_path = ?, output_tail = ?
        WHERE job_id = ? AND token = ?`)
      .run(
        now,
        result.exitCode,
        result.signal,
        result.error,
        result.stdoutBytes,
        result.stderrBytes,
        result.logPath,
        result.outputTail,
        id,
        token,
      );
  }

  /** A jobfile changed while the job ran: the new revision starts fresh once this run ends. */
  private promoteNextRevision(id: string, now: number): void {
    this.db
      .query(`
        UPDATE jobs SET spec = next_spec, revision = next_revision, max_retries = next_max_retries,
                        state = 'pending', attempts = 0, next_run_at = ?1, updated_at = ?1, finished_at = NULL,
                        next_spec = NULL, next_revision = NULL, next_max_retries = NULL
        WHERE id = ?2 AND next_spec IS NOT NULL AND state <> 'processing'`)
      .run(now, id);
  }
}
