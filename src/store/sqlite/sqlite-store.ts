/**
 * The embedded SQLite backend (bun:sqlite). One file, WAL mode, no server.
 *
 * Claims rely on SQLite's single writer: `BEGIN IMMEDIATE` takes the write lock first, so
 * the `UPDATE … WHERE seq = (SELECT … LIMIT 1) RETURNING` cannot race another claimer.
 * PostgreSQL reaches the same guarantee with `FOR UPDATE SKIP LOCKED`.
 */

import type { Database } from "bun:sqlite";
import { UserError } from "../../core/errors.ts";
import { emptyStateCounts, type Job, type JobState, type StateCounts } from "../../core/job.ts";
import type { ResourceLimits } from "../../core/resource-limits.ts";
import type { JobSpec } from "../../core/spec.ts";
import type { FolderSyncRun, JobfileFolder } from "../folder-records.ts";
import { rowToAttempt, rowToJob } from "../rows.ts";
import type {
  CompleteAndClaimParams,
  DeclaredJob,
  HeldLease,
  ImportBatch,
  ImportResult,
  JobDeclaration,
  JobDependencyLinks,
  JobfileApplyResult,
  JobfileChanges,
  JobPageParams,
  JobRecord,
  JobSearchParams,
  KillMode,
  NewJob,
  QueueInfo,
  RenewedLease,
  RunResult,
  ScheduleRecord,
  Store,
  StoreSettings,
  ThroughputBucket,
  WorkerRecord,
} from "../store.ts";
import { completeAndClaim } from "./complete-many.ts";
import * as folders from "./folders.ts";
import { exportJobs, importJobs, JobImporter } from "./import.ts";
import { type Dependencies, insertJobRows, linkDependencies } from "./insert.ts";
import { jobPage } from "./job-list.ts";
import { dependencyLinks, searchJobs } from "./job-search.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { declaredJobs, jobDeclarations } from "./jobfile-declarations.ts";
import {
  claimJob,
  completeJob,
  expiredLeases,
  extendLease,
  type FailParams,
  failJob,
  releaseJob,
  renewLeases,
  requestKill,
  type TransitionParams,
  transitionJobs,
} from "./lifecycle.ts";
import { attemptLimitsSet, queueLimitsList, queueLimitsSet } from "./limits.ts";
import { attemptThroughput, metricsSnapshot } from "./metrics.ts";
import { openSqliteDatabase, type SqliteOptions } from "./open-database.ts";
import { jobPurge, queueList, queueSet } from "./queues.ts";
import * as registry from "./registry.ts";
import { scheduleFire, scheduleGet, scheduleList, scheduleRemove, scheduleUpsert } from "./schedules.ts";
import {
  assertSameFile,
  describeSqliteError,
  fileIdentity,
  readOnlyError,
  translateSqliteError,
} from "./sqlite-errors.ts";

type Row = Record<string, unknown>;

/** Jobs between two progress reports of a bulk insert. */
const PROGRESS_EVERY = 5000;

/** How often an idle worker checks SQLite's data_version for commits by other processes. */
const CHANGE_POLL_MS = 20;

export type { SqliteOptions } from "./open-database.ts";

export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly location: string;
  private readonly db: Database;
  /** The file as opened (device and inode), to notice it being deleted or replaced. */
  private readonly identity: string | null;
  /** Why this file cannot be written (see open-database.ts), or null. */
  private readonly readOnly: string | null;

  constructor(path: string, options: SqliteOptions = {}) {
    this.location = path;
    const opened = translateSqliteError(path, () => openSqliteDatabase(path, options));
    this.db = opened.db;
    this.readOnly = opened.readOnly;
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
      if (this.readOnly !== null) throw readOnlyError(this.location, this.readOnly);
      assertSameFile(this.location, this.identity);
      return this.db.transaction(work).immediate();
    });
  }

  /**
   * One IMMEDIATE transaction held open while `work` awaits its input, for bulk input that
   * streams from a file instead of sitting in memory. The write lock is held meanwhile, as
   * it is for any bulk insert, and nothing else may write through this store until it ends.
   */
  private async writeStream<T>(work: () => Promise<T>): Promise<T> {
    if (this.readOnly !== null) throw readOnlyError(this.location, this.readOnly);
    try {
      assertSameFile(this.location, this.identity);
      this.db.run("BEGIN IMMEDIATE");
      const result = await work();
      this.db.run("COMMIT");
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.run("ROLLBACK");
      if (error instanceof UserError) throw error;
      throw describeSqliteError(this.location, error);
    }
  }

  async close(): Promise<void> {
    this.db.close(false);
  }

  jobInsertMany(params: { jobs: NewJob[]; now: number; onProgress?: (done: number) => void }): Promise<void> {
    return this.write(() => {
      const withDependencies: Dependencies[] = [];
      for (let start = 0; start < params.jobs.length; start += PROGRESS_EVERY) {
        const batch = params.jobs.slice(start, start + PROGRESS_EVERY);
        withDependencies.push(...insertJobRows(this.db, batch, params.now));
        params.onProgress?.(start + batch.length);
      }
      linkDependencies(this.db, withDependencies, params.now);
      if (params.jobs.length === 0) params.onProgress?.(0);
    });
  }

  async jobInsertStream(params: {
    batches: AsyncIterable<NewJob[]>;
    now: number;
    onProgress?: (done: number) => void;
  }): Promise<number> {
    return this.writeStream(async () => {
      const withDependencies: Dependencies[] = [];
      let done = 0;
      for await (const batch of params.batches) {
        withDependencies.push(...insertJobRows(this.db, batch, params.now));
        done += batch.length;
        params.onProgress?.(done);
      }
      linkDependencies(this.db, withDependencies, params.now);
      return done;
    });
  }

  jobExport(params: { state?: JobState; after: string | null; limit: number }) {
    return this.run(() => exportJobs(this.db, params));
  }

  jobImportMany(params: {
    jobs: JobRecord[];
    settings?: StoreSettings;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }) {
    return this.write(() => importJobs(this.db, params));
  }

  jobImportStream(params: {
    batches: AsyncIterable<ImportBatch>;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }): Promise<ImportResult> {
    return this.writeStream(async () => {
      const importer = new JobImporter(this.db, params.merge ?? false);
      for await (const batch of params.batches) {
        importer.add(batch);
        params.onProgress?.(importer.jobsSeen);
      }
      return importer.finish();
    });
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

  jobPage(params: JobPageParams): Promise<{ jobs: Job[]; total: number }> {
    return this.run(() => jobPage(this.db, params));
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
    return this.write(() => claimJob(this.db, params));
  }

  jobLeaseExtend(params: { id: string; token: number; leaseUntil: number }): Promise<boolean> {
    return this.write(() => extendLease(this.db, params));
  }

  jobLeaseRenewMany(params: { leases: HeldLease[]; leaseUntil: number }): Promise<RenewedLease[]> {
    return this.write(() => renewLeases(this.db, params));
  }

  jobKillRequest(params: { id: string; mode: KillMode }) {
    return this.write(() => requestKill(this.db, params));
  }

  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean> {
    return this.write(() => completeJob(this.db, params));
  }

  jobCompleteAndClaim(params: CompleteAndClaimParams): Promise<{ completed: boolean[]; claimed: Job[] }> {
    return this.write(() => completeAndClaim(this.db, params));
  }

  jobFail(params: FailParams): Promise<boolean> {
    return this.write(() => failJob(this.db, params));
  }

  jobRelease(params: { id: string; token: number; now: number; reason: string }): Promise<boolean> {
    return this.write(() => releaseJob(this.db, params));
  }

  jobExpiredLeases(params: { now: number; limit: number }): Promise<Job[]> {
    return this.run(() => expiredLeases(this.db, params));
  }

  jobTransition(params: TransitionParams): Promise<Job[]> {
    return this.write(() => transitionJobs(this.db, params));
  }

  attemptList(params: { jobId: string }) {
    return this.run(() =>
      (
        this.db.query("SELECT * FROM attempts WHERE job_id = ? ORDER BY token").all(params.jobId) as Row[]
      ).map(rowToAttempt),
    );
  }

  configGetAll(): Promise<Record<string, string>> {
    return this.run(() => registry.configGetAll(this.db));
  }

  configSet(params: { key: string; value: string }): Promise<void> {
    return this.write(() => registry.configSet(this.db, params));
  }

  workerRegister(params: { id: string; host: string; pid: number; now: number; queues: string[] | null }) {
    return this.write(() => registry.workerRegister(this.db, params));
  }

  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }> {
    return this.write(() => registry.workerHeartbeat(this.db, params));
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.write(() => registry.workerRemove(this.db, params.id));
  }

  async clockNow(): Promise<number> {
    // One file on one host: every process reads this clock.
    return Date.now();
  }

  workerList(): Promise<WorkerRecord[]> {
    return this.run(() => registry.workerList(this.db));
  }

  workerRequestStop(params: { host?: string }): Promise<number> {
    return this.write(() => registry.workerRequestStop(this.db, params.host ?? null));
  }

  declaredList(): Promise<DeclaredJob[]> {
    return this.run(() => declaredJobs(this.db));
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

  jobDependencyLinks(params: { id: string; limit: number }): Promise<JobDependencyLinks> {
    return this.run(() => dependencyLinks(this.db, params.id, params.limit));
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

  queueLimitsSet(params: { name: string; limits: ResourceLimits | null }): Promise<void> {
    return this.write(() => queueLimitsSet(this.db, params));
  }

  queueLimitsList(): Promise<Record<string, ResourceLimits>> {
    return this.run(() => queueLimitsList(this.db));
  }

  attemptLimitsSet(params: { jobId: string; token: number; limits: string }): Promise<void> {
    return this.write(() => attemptLimitsSet(this.db, params));
  }

  jobPurge(params: {
    states: JobState[];
    finishedBefore: number;
    dryRun: boolean;
    limit?: number;
  }): Promise<string[]> {
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

  folderSyncRecord(params: FolderSyncRun): Promise<void> {
    return this.write(() => folders.folderSyncRecord(this.db, params));
  }
  folderList(): Promise<JobfileFolder[]> {
    return this.run(() => folders.folderList(this.db));
  }
  folderWatcherClaim(params: Parameters<Store["folderWatcherClaim"]>[0]): Promise<boolean> {
    return this.write(() => folders.folderWatcherClaim(this.db, params));
  }
  folderWatcherBeat(params: Parameters<Store["folderWatcherBeat"]>[0]): Promise<void> {
    return this.write(() => folders.folderWatcherBeat(this.db, params));
  }
  folderWatcherRemove(params: Parameters<Store["folderWatcherRemove"]>[0]): Promise<void> {
    return this.write(() => folders.folderWatcherRemove(this.db, params));
  }
}
