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
import type * as P from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import type { Store } from "../store.ts";
import { ChangeListener } from "./changes.ts";
import {
  openConnection,
  type SqliteConnection,
  type SqliteOptions,
  setAsideReplacedWal,
  streamTransaction,
  withFailures,
  writeTransaction,
} from "./connection.ts";
import { dependentEdges } from "./dependencies.ts";
import * as folders from "./folders.ts";
import { insertJobStream, insertJobs } from "./insert.ts";
import { countJobs, getJob, jobPage, listAttempts, listJobs } from "./job-reads.ts";
import * as registry from "./registry.ts";
import type { WalCheckpointer } from "./wal-checkpointer.ts";

export type { SqliteOptions } from "./connection.ts";

/** Loads a module when first asked for, then hands back the same one. */
function onFirstUse<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

// The SQL of commands that scripts rarely loop on, loaded on first use: `enqueue` and
// `status` start in about three bare Bun starts, and every module loaded at start adds to it.
const transfer = onFirstUse(() => require("./transfer.ts") as typeof import("./transfer.ts"));
const jobfileApply = onFirstUse(() => require("./jobfile-apply.ts") as typeof import("./jobfile-apply.ts"));
const declarations = onFirstUse(
  () => require("./jobfile-declarations.ts") as typeof import("./jobfile-declarations.ts"),
);
const jobSearch = onFirstUse(() => require("./job-search.ts") as typeof import("./job-search.ts"));
const metrics = onFirstUse(() => require("./metrics.ts") as typeof import("./metrics.ts"));
const schedules = onFirstUse(() => require("./schedules.ts") as typeof import("./schedules.ts"));
const limits = onFirstUse(() => require("./limits.ts") as typeof import("./limits.ts"));
const reports = onFirstUse(() => require("./progress.ts") as typeof import("./progress.ts"));
const queues = onFirstUse(() => require("./queues.ts") as typeof import("./queues.ts"));
const transition = onFirstUse(() => require("./transition.ts") as typeof import("./transition.ts"));
// A worker's own SQL, likewise: a worker loads it once, `enqueue` and `status` never.
const claiming = onFirstUse(() => require("./claim.ts") as typeof import("./claim.ts"));
const completeMany = onFirstUse(() => require("./complete-many.ts") as typeof import("./complete-many.ts"));
const runs = onFirstUse(() => require("./run.ts") as typeof import("./run.ts"));
const webhooks = onFirstUse(() => require("./webhooks.ts") as typeof import("./webhooks.ts"));
const outbox = onFirstUse(() => require("../webhook-outbox.ts") as typeof import("../webhook-outbox.ts"));

/** Opens (creating and migrating when needed) the SQLite store at `path`. */
export async function openSqliteStore(path: string, options: SqliteOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(path, options);
}

export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  // About one prepared block (flow/prepared-block.ts): 5,000 kept SQLite waiting for the
  // first five blocks, then writing in bursts (enqueue -f of 100,000 jobs: 700 -> 670 ms).
  readonly streamBatchRows = 1000;
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
  private writeStream<T>(work: (db: Database) => Promise<T>, inputBytes?: number): Promise<T> {
    return streamTransaction(this.connection, () => work(this.db), inputBytes);
  }

  /** The WAL checkpoint thread, when the store was opened with `checkpointInBackground`. */
  get checkpointer(): WalCheckpointer | null {
    return this.connection.checkpointer;
  }

  async close(): Promise<void> {
    await this.connection.checkpointer?.stop();
    this.db.close(false);
    setAsideReplacedWal(this.connection);
  }

  jobInsertMany(params: P.JobInsertParams) {
    return this.write((db) => insertJobs(db, params));
  }
  jobInsertStream(params: P.JobInsertStreamParams) {
    return this.writeStream((db) => insertJobStream(db, params), params.inputBytes);
  }
  jobExport(params: P.JobExportParams) {
    return this.read((db) => transfer().exportJobs(db, params));
  }
  jobImportMany(params: P.JobImportParams) {
    return this.write((db) => transfer().importJobs(db, params));
  }
  jobImportStream(params: P.JobImportStreamParams) {
    return this.writeStream((db) => transfer().importJobStream(db, params), params.inputBytes);
  }
  purgedRevisionList() {
    return this.read((db) => transfer().purgedRevisionList(db));
  }
  jobGet(params: P.ById) {
    return this.read((db) => getJob(db, params));
  }
  // One connection, and reads never wait for a writer: a plain read is already apart.
  jobsGetApart(params: { ids: string[] }) {
    return Promise.all(params.ids.map((id) => this.jobGet({ id })));
  }
  jobList(params: P.JobListParams) {
    return this.read((db) => listJobs(db, params));
  }
  jobPage(params: P.JobPageParams) {
    return this.read((db) => jobPage(db, params));
  }
  jobCounts() {
    return this.read((db) => countJobs(db));
  }

  jobClaim(params: P.JobClaimParams) {
    return this.write((db) => claiming().claimJob(db, params));
  }

  jobNextDueAt(params: JobNextDueParams) {
    return this.read((db) => claiming().nextDueAt(db, params));
  }
  jobLeaseExtend(params: P.LeaseExtendParams) {
    return this.write((db) => runs().extendLease(db, params));
  }
  jobLeaseRenewMany(params: P.LeaseRenewParams) {
    return this.write((db) => runs().renewLeases(db, params));
  }
  jobKillRequest(params: P.KillRequestParams) {
    return this.write((db) => runs().requestKill(db, params));
  }
  jobComplete(params: P.JobCompleteParams) {
    return this.write((db) => runs().completeJob(db, params));
  }
  jobCompleteAndClaim(params: P.CompleteAndClaimParams) {
    return this.write((db) => completeMany().completeAndClaim(db, params));
  }
  jobFail(params: P.JobFailParams) {
    return this.write((db) => runs().failJob(db, params));
  }
  jobRelease(params: P.JobReleaseParams) {
    return this.write((db) => runs().releaseJob(db, params));
  }
  jobExpiredLeases(params: P.ExpiredLeasesParams) {
    return this.read((db) => runs().expiredLeases(db, params));
  }
  jobTransition(params: P.JobTransitionParams) {
    return this.write((db) => transition().transitionJobs(db, params));
  }
  attemptList(params: P.AttemptListParams) {
    return this.read((db) => listAttempts(db, params));
  }

  configGetAll() {
    return this.read((db) => registry.configGetAll(db));
  }
  configSet(params: P.ConfigSetParams) {
    return this.write((db) => registry.configSet(db, params));
  }
  workerRegister(params: P.WorkerRegisterParams) {
    return this.write((db) => registry.workerRegister(db, params));
  }
  workerHeartbeat(params: P.WorkerHeartbeatParams) {
    return this.write((db) => registry.workerHeartbeat(db, params));
  }
  workerRemove(params: P.ById) {
    return this.write((db) => registry.workerRemove(db, params));
  }
  async clockNow() {
    return registry.storeNow();
  }
  workerList() {
    return this.read((db) => registry.workerList(db));
  }
  workerRequestStop(params: P.WorkerStopParams) {
    return this.write((db) => registry.workerRequestStop(db, params));
  }

  declaredList() {
    return this.read((db) => declarations().declaredJobs(db));
  }
  jobfileApply(params: P.JobfileApplyParams) {
    return this.write((db) => jobfileApply().applyJobfileChanges(db, params));
  }
  jobDeclarations(params: P.JobDeclarationsParams) {
    return this.read((db) => declarations().jobDeclarations(db, params));
  }
  completedRevisionList(params: { ids: string[] }) {
    return this.read((db) => declarations().completedRevisionList(db, params));
  }
  jobDependentEdges(params: { ids: string[] }) {
    return this.read((db) => dependentEdges(db, params.ids));
  }

  changeMarker() {
    return this.changes.marker();
  }
  waitForChange(params: P.WaitForChangeParams) {
    return this.changes.wait(params.timeoutMs, params.signal, params.since);
  }

  jobSearch(params: P.JobSearchParams) {
    return this.read((db) => jobSearch().searchJobs(db, params));
  }
  jobDependencyLinks(params: P.DependencyLinksParams) {
    return this.read((db) => jobSearch().dependencyLinks(db, params));
  }
  attemptThroughput(params: P.ThroughputParams) {
    return this.read((db) => metrics().attemptThroughput(db, params));
  }
  metricsSnapshot(params: P.MetricsParams) {
    return this.read((db) => metrics().metricsSnapshot(db, params));
  }

  queueSet(params: P.QueueSetParams) {
    return this.write((db) => queues().queueSet(db, params));
  }
  queueList() {
    return this.read((db) => queues().queueList(db));
  }

  queuePausedList() {
    return this.read((db) => queues().queuePausedList(db));
  }
  jobPurge(params: P.JobPurgeParams) {
    return this.write((db) => queues().jobPurge(db, params));
  }
  jobProgressSave(params: P.JobProgressSaveParams) {
    return this.write((db) => reports().jobProgressSave(db, params));
  }
  jobResultSave(params: P.JobResultSaveParams) {
    return this.write((db) => reports().jobResultSave(db, params));
  }
  jobResults(params: P.JobResultsParams) {
    return this.read((db) => reports().jobResults(db, params));
  }

  scheduleUpsert(params: P.ScheduleUpsertParams) {
    return this.write((db) => schedules().scheduleUpsert(db, params));
  }
  scheduleGet(params: P.ById) {
    return this.read((db) => schedules().scheduleGet(db, params));
  }
  scheduleList() {
    return this.read((db) => schedules().scheduleList(db));
  }
  scheduleRemove(params: P.ById) {
    return this.write((db) => schedules().scheduleRemove(db, params));
  }
  scheduleDue(params: P.ScheduleDueParams) {
    return this.read((db) => schedules().scheduleDue(db, params));
  }
  scheduleFire(params: P.ScheduleFireParams) {
    return this.write((db) => schedules().scheduleFire(db, params));
  }

  folderSyncRecord(params: FolderSyncRun) {
    return this.write((db) => folders.folderSyncRecord(db, params));
  }
  folderList() {
    return this.read((db) => folders.folderList(db));
  }
  folderWatcherClaim(params: P.FolderWatcherClaimParams) {
    return this.write((db) => folders.folderWatcherClaim(db, params));
  }
  folderWatcherBeat(params: P.FolderWatcherBeatParams) {
    return this.write((db) => folders.folderWatcherBeat(db, params));
  }
  folderWatcherRemove(params: P.FolderWatcherParams) {
    return this.write((db) => folders.folderWatcherRemove(db, params));
  }

  webhookDeliveryClaim(params: P.WebhookDeliveryClaimParams) {
    return outbox().claimWhenDue(
      () => this.read((db) => webhooks().webhookDeliveryDue(db, params.now)),
      () => this.write((db) => webhooks().webhookDeliveryClaim(db, params)),
    );
  }
  webhookDeliveryRecord(params: P.WebhookDeliveryRecordParams) {
    return this.write((db) => webhooks().webhookDeliveryRecord(db, params));
  }
  webhookDeliveryList(params: P.WebhookDeliveryListParams) {
    return this.read((db) => webhooks().webhookDeliveryList(db, params));
  }
  queueNotifySet(params: P.QueueNotifySetParams) {
    return this.write((db) => webhooks().queueNotifySet(db, params));
  }
  queueLimitsSet(params: P.QueueLimitsSetParams) {
    return this.write((db) => limits().queueLimitsSet(db, params));
  }
  queueLimitsList() {
    return this.read((db) => limits().queueLimitsList(db));
  }
  attemptLimitsSet(params: P.AttemptLimitsSetParams) {
    return this.write((db) => limits().attemptLimitsSet(db, params));
  }
  queueNotifyList() {
    return this.read((db) => webhooks().queueNotifyList(db));
  }
}
