/**
 * The embedded SQLite backend (bun:sqlite). One file, WAL mode, no server. This class opens
 * the file, runs writes in IMMEDIATE transactions and turns failures into one-line errors;
 * the SQL lives beside it, one concern per file, in files named as PostgreSQL's are.
 *
 * bun:sqlite is synchronous; every method still returns a promise so that both backends
 * share one Store interface.
 */

import type { Database } from "bun:sqlite";
import type { FolderSyncRun } from "../folder-records.ts";
import type {
  AttemptListParams,
  ById,
  ConfigSetParams,
  DependencyLinksParams,
  ExpiredLeasesParams,
  FolderWatcherBeatParams,
  FolderWatcherClaimParams,
  FolderWatcherParams,
  JobClaimParams,
  JobCompleteParams,
  JobDeclarationsParams,
  JobExportParams,
  JobFailParams,
  JobfileApplyParams,
  JobImportParams,
  JobImportStreamParams,
  JobInsertParams,
  JobInsertStreamParams,
  JobListParams,
  JobPageParams,
  JobPurgeParams,
  JobReleaseParams,
  JobSearchParams,
  JobTransitionParams,
  KillRequestParams,
  LeaseExtendParams,
  LeaseRenewParams,
  MetricsParams,
  QueueSetParams,
  ScheduleDueParams,
  ScheduleFireParams,
  ScheduleUpsertParams,
  ThroughputParams,
  WaitForChangeParams,
  WorkerHeartbeatParams,
  WorkerRegisterParams,
  WorkerStopParams,
} from "../params.ts";
import type { Store } from "../store.ts";
import { ChangeListener } from "./changes.ts";
import { claimJob } from "./claim.ts";
import {
  openConnection,
  type SqliteConnection,
  type SqliteOptions,
  streamTransaction,
  withFailures,
  writeTransaction,
} from "./connection.ts";
import * as folders from "./folders.ts";
import { insertJobStream, insertJobs } from "./insert.ts";
import { countJobs, getJob, jobPage, listAttempts, listJobs } from "./job-reads.ts";
import { dependencyLinks, searchJobs } from "./job-search.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { declaredJobs, jobDeclarations } from "./jobfile-declarations.ts";
import { attemptThroughput, metricsSnapshot } from "./metrics.ts";
import { jobPurge, queueList, queueSet } from "./queues.ts";
import * as registry from "./registry.ts";
import {
  completeJob,
  expiredLeases,
  extendLease,
  failJob,
  releaseJob,
  renewLeases,
  requestKill,
} from "./run.ts";
import * as schedules from "./schedules.ts";
import { exportJobs, importJobStream, importJobs } from "./transfer.ts";
import { transitionJobs } from "./transition.ts";

export type { SqliteOptions } from "./connection.ts";

/** Opens (creating and migrating when needed) the SQLite store at `path`. */
export async function openSqliteStore(path: string, options: SqliteOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(path, options);
}

export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly location: string;
  private readonly connection: SqliteConnection;
  private readonly db: Database;
  private readonly changes: ChangeListener;

  constructor(path: string, options: SqliteOptions = {}) {
    this.location = path;
    this.connection = openConnection(path, options);
    this.db = this.connection.db;
    this.changes = new ChangeListener(this.connection);
  }

  /** Raw access for crash-repair tests that must write a crashed state directly. */
  get database(): Database {
    return this.db;
  }

  private read<T>(work: (db: Database) => T): Promise<T> {
    try {
      return Promise.resolve(withFailures(this.location, () => work(this.db)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private write<T>(work: (db: Database) => T): Promise<T> {
    try {
      return Promise.resolve(writeTransaction(this.connection, () => work(this.db)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A write whose input streams in: the transaction stays open while `work` awaits it. */
  private writeStream<T>(work: (db: Database) => Promise<T>): Promise<T> {
    return streamTransaction(this.connection, () => work(this.db));
  }

  async close(): Promise<void> {
    this.db.close(false);
  }

  jobInsertMany(params: JobInsertParams) {
    return this.write((db) => insertJobs(db, params));
  }
  jobInsertStream(params: JobInsertStreamParams) {
    return this.writeStream((db) => insertJobStream(db, params));
  }
  jobExport(params: JobExportParams) {
    return this.read((db) => exportJobs(db, params));
  }
  jobImportMany(params: JobImportParams) {
    return this.write((db) => importJobs(db, params));
  }
  jobImportStream(params: JobImportStreamParams) {
    return this.writeStream((db) => importJobStream(db, params));
  }
  jobGet(params: ById) {
    return this.read((db) => getJob(db, params));
  }
  jobList(params: JobListParams) {
    return this.read((db) => listJobs(db, params));
  }
  jobPage(params: JobPageParams) {
    return this.read((db) => jobPage(db, params));
  }
  jobCounts() {
    return this.read((db) => countJobs(db));
  }

  jobClaim(params: JobClaimParams) {
    return this.write((db) => claimJob(db, params));
  }
  jobLeaseExtend(params: LeaseExtendParams) {
    return this.write((db) => extendLease(db, params));
  }
  jobLeaseRenewMany(params: LeaseRenewParams) {
    return this.write((db) => renewLeases(db, params));
  }
  jobKillRequest(params: KillRequestParams) {
    return this.write((db) => requestKill(db, params));
  }
  jobComplete(params: JobCompleteParams) {
    return this.write((db) => completeJob(db, params));
  }
  jobFail(params: JobFailParams) {
    return this.write((db) => failJob(db, params));
  }
  jobRelease(params: JobReleaseParams) {
    return this.write((db) => releaseJob(db, params));
  }
  jobExpiredLeases(params: ExpiredLeasesParams) {
    return this.read((db) => expiredLeases(db, params));
  }
  jobTransition(params: JobTransitionParams) {
    return this.write((db) => transitionJobs(db, params));
  }
  attemptList(params: AttemptListParams) {
    return this.read((db) => listAttempts(db, params));
  }

  configGetAll() {
    return this.read((db) => registry.configGetAll(db));
  }
  configSet(params: ConfigSetParams) {
    return this.write((db) => registry.configSet(db, params));
  }
  workerRegister(params: WorkerRegisterParams) {
    return this.write((db) => registry.workerRegister(db, params));
  }
  workerHeartbeat(params: WorkerHeartbeatParams) {
    return this.write((db) => registry.workerHeartbeat(db, params));
  }
  workerRemove(params: ById) {
    return this.write((db) => registry.workerRemove(db, params));
  }
  async clockNow() {
    return registry.storeNow();
  }
  workerList() {
    return this.read((db) => registry.workerList(db));
  }
  workerRequestStop(params: WorkerStopParams) {
    return this.write((db) => registry.workerRequestStop(db, params));
  }

  declaredList() {
    return this.read((db) => declaredJobs(db));
  }
  jobfileApply(params: JobfileApplyParams) {
    return this.write((db) => applyJobfileChanges(db, params));
  }
  jobDeclarations(params: JobDeclarationsParams) {
    return this.read((db) => jobDeclarations(db, params));
  }

  changeMarker() {
    return this.changes.marker();
  }
  waitForChange(params: WaitForChangeParams) {
    return this.changes.wait(params.timeoutMs, params.signal);
  }

  jobSearch(params: JobSearchParams) {
    return this.read((db) => searchJobs(db, params));
  }
  jobDependencyLinks(params: DependencyLinksParams) {
    return this.read((db) => dependencyLinks(db, params));
  }
  attemptThroughput(params: ThroughputParams) {
    return this.read((db) => attemptThroughput(db, params));
  }
  metricsSnapshot(params: MetricsParams) {
    return this.read((db) => metricsSnapshot(db, params));
  }

  queueSet(params: QueueSetParams) {
    return this.write((db) => queueSet(db, params));
  }
  queueList() {
    return this.read((db) => queueList(db));
  }
  jobPurge(params: JobPurgeParams) {
    return this.write((db) => jobPurge(db, params));
  }

  scheduleUpsert(params: ScheduleUpsertParams) {
    return this.write((db) => schedules.scheduleUpsert(db, params));
  }
  scheduleGet(params: ById) {
    return this.read((db) => schedules.scheduleGet(db, params));
  }
  scheduleList() {
    return this.read((db) => schedules.scheduleList(db));
  }
  scheduleRemove(params: ById) {
    return this.write((db) => schedules.scheduleRemove(db, params));
  }
  scheduleDue(params: ScheduleDueParams) {
    return this.read((db) => schedules.scheduleDue(db, params));
  }
  scheduleFire(params: ScheduleFireParams) {
    return this.write((db) => schedules.scheduleFire(db, params));
  }

  folderSyncRecord(params: FolderSyncRun) {
    return this.write((db) => folders.folderSyncRecord(db, params));
  }
  folderList() {
    return this.read((db) => folders.folderList(db));
  }
  folderWatcherClaim(params: FolderWatcherClaimParams) {
    return this.write((db) => folders.folderWatcherClaim(db, params));
  }
  folderWatcherBeat(params: FolderWatcherBeatParams) {
    return this.write((db) => folders.folderWatcherBeat(db, params));
  }
  folderWatcherRemove(params: FolderWatcherParams) {
    return this.write((db) => folders.folderWatcherRemove(db, params));
  }
}
