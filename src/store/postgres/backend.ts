/**
 * The PostgreSQL backend, on Bun's built-in client (Bun.sql), for workers on many hosts
 * sharing one queue. Same Store semantics as the SQLite backend. This class opens the
 * connection, runs writes in transactions that NOTIFY idle workers, and turns connection
 * failures into one-line errors; the SQL lives beside it, one concern per file, in files
 * named as SQLite's are, with comments where it differs from SQLite.
 *
 * `?schema=NAME` in the URL keeps the queue in its own schema (created if missing), so
 * several queues, or test runs, can share one database.
 */

import type { SQL } from "bun";
import type { FolderSyncRun } from "../folder-records.ts";
import type * as P from "../params.ts";
import type { JobNextDueParams } from "../records.ts";
import type { Store } from "../store.ts";
import { claimWhenDue } from "../webhook-outbox.ts";
import { ChangeListener } from "./changes.ts";
import { claimJob, nextDueAt } from "./claim.ts";
import { anyLimitedQueue, completeAndClaim } from "./complete-many.ts";
import {
  type OpeningRules,
  openConnection,
  type PostgresConnection,
  sideConnection,
  streamTransaction,
  withFailures,
  writeTransaction,
} from "./connection.ts";
import { dependentEdges, lockDependenciesExclusive } from "./dependencies.ts";
import * as folders from "./folders.ts";
import { insertJobStream, insertJobs } from "./insert.ts";
import { countJobs, getJob, jobPage, listAttempts, listJobs } from "./job-reads.ts";
import { dependencyLinks, searchJobs } from "./job-search.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { completedRevisionList, declaredJobs, jobDeclarations } from "./jobfile-declarations.ts";
import * as limits from "./limits.ts";
import { attemptThroughput, metricsSnapshot } from "./metrics.ts";
import * as reports from "./progress.ts";
import { jobPurge, queueList, queuePausedList, queueSet } from "./queues.ts";
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
import { exportJobs, importJobStream, importJobs, purgedRevisionList } from "./transfer.ts";
import { transitionJobs } from "./transition.ts";
import * as webhooks from "./webhooks.ts";

/**
 * Opens (creating and migrating when needed) the queue at a postgres:// URL, with a pool of
 * `connections` (default 1; see openConnection).
 */
export async function openPostgresStore(
  url: string,
  connections?: number,
  opening: OpeningRules = {},
): Promise<PostgresStore> {
  return new PostgresStore(await openConnection(url, connections, opening));
}

type Notify = () => Promise<void>;

export class PostgresStore implements Store {
  readonly backend = "postgres" as const;
  // One COPY and one check of schedule ids per batch: large enough to amortize them.
  readonly streamBatchRows = 5000;
  readonly location: string;
  /** The schema holding the tables (`?schema=`, else the server's current_schema()). */
  readonly schema: string;
  private readonly sql: SQL;
  private readonly changes: ChangeListener;
  private readonly channel: string;

  constructor(private readonly connection: PostgresConnection) {
    this.location = connection.target.location;
    this.schema = connection.schema;
    this.sql = connection.sql;
    this.channel = ChangeListener.channelFor(connection.schema);
    this.changes = new ChangeListener(connection.sql, this.channel);
  }

  /** Raw access for crash-repair tests that must write a crashed state directly. */
  get client(): SQL {
    return this.sql;
  }

  private read<T>(work: (sql: SQL) => Promise<T>): Promise<T> {
    return withFailures(this.connection.target, () => work(this.sql));
  }

  /** One transaction; `notify` wakes idle workers on every host once it commits. */
  private write<T>(work: (tx: SQL, notify: Notify) => Promise<T>): Promise<T> {
    return writeTransaction(this.connection, this.channel, work);
  }

  /** A write whose input streams in; it always wakes idle workers. */
  private writeStream<T>(work: (tx: SQL) => Promise<T>): Promise<T> {
    return streamTransaction(this.connection, this.channel, async (tx, notify) => {
      const result = await work(tx);
      await notify();
      return result;
    });
  }

  async close(): Promise<void> {
    await this.changes.stop().catch(() => {});
    await this.sql.close({ timeout: 5 });
  }

  jobInsertMany(params: P.JobInsertParams) {
    return this.write(async (tx, notify) => {
      await insertJobs(tx, this.schema, params);
      await notify();
    });
  }
  jobInsertStream(params: P.JobInsertStreamParams) {
    return this.writeStream((tx) => insertJobStream(tx, this.schema, params));
  }
  jobExport(params: P.JobExportParams) {
    return this.read((sql) => exportJobs(sql, params));
  }
  jobImportMany(params: P.JobImportParams) {
    return this.write(async (tx, notify) => {
      if (params.jobs.some((job) => job.spec.after)) await lockDependenciesExclusive(tx, this.schema);
      const result = await importJobs(tx, this.schema, params);
      await notify();
      return result;
    });
  }
  jobImportStream(params: P.JobImportStreamParams) {
    return this.writeStream((tx) => importJobStream(tx, this.schema, params));
  }
  purgedRevisionList() {
    return this.read((sql) => purgedRevisionList(sql));
  }
  jobGet(params: P.ById) {
    return this.read((sql) => getJob(sql, params));
  }
  async jobsGetApart(params: { ids: string[] }) {
    const side = sideConnection(this.connection);
    try {
      return await withFailures(this.connection.target, () =>
        Promise.all(params.ids.map((id) => getJob(side, { id }))),
      );
    } finally {
      await side.close({ timeout: 0 }).catch(() => {});
    }
  }
  jobList(params: P.JobListParams) {
    return this.read((sql) => listJobs(sql, params));
  }
  jobPage(params: P.JobPageParams) {
    return this.read((sql) => jobPage(sql, params));
  }
  jobCounts() {
    return this.read((sql) => countJobs(sql));
  }

  // Claims, lease renewals and kill requests never create work: they stay silent (see changes.ts).
  jobClaim(params: P.JobClaimParams) {
    return this.read((sql) => claimJob(sql, params));
  }

  jobNextDueAt(params: JobNextDueParams) {
    return this.read((sql) => nextDueAt(sql, params));
  }
  jobLeaseExtend(params: P.LeaseExtendParams) {
    return this.read((sql) => extendLease(sql, params));
  }
  jobLeaseRenewMany(params: P.LeaseRenewParams) {
    return this.read((sql) => renewLeases(sql, params));
  }
  jobKillRequest(params: P.KillRequestParams) {
    return this.read((sql) => requestKill(sql, params));
  }
  jobComplete(params: P.JobCompleteParams) {
    return this.write(async (tx, notify) => notifyIf(await completeJob(tx, this.schema, params), notify));
  }
  async jobCompleteAndClaim(params: P.CompleteAndClaimParams) {
    const result = await this.write((tx, notify) => completeAndClaim(tx, this.schema, params, notify));
    // Limited or paused queues are claimed one by one, their queue's row locked first.
    const { claim } = params;
    if (claim && result.claimed.length < claim.limit && (await this.read(anyLimitedQueue))) {
      while (result.claimed.length < claim.limit) {
        const job = await this.jobClaim({ ...claim, now: params.now });
        if (!job) break;
        result.claimed.push(job);
      }
    }
    return result;
  }
  jobFail(params: P.JobFailParams) {
    return this.write(async (tx, notify) => notifyIf(await failJob(tx, this.schema, params), notify));
  }
  jobRelease(params: P.JobReleaseParams) {
    return this.write(async (tx, notify) => notifyIf(await releaseJob(tx, params), notify));
  }
  jobExpiredLeases(params: P.ExpiredLeasesParams) {
    return this.read((sql) => expiredLeases(sql, params));
  }
  jobTransition(params: P.JobTransitionParams) {
    return this.write(async (tx, notify) => {
      const moved = await transitionJobs(tx, this.schema, params);
      if (moved.length > 0) await notify();
      return moved;
    });
  }
  attemptList(params: P.AttemptListParams) {
    return this.read((sql) => listAttempts(sql, params));
  }

  configGetAll() {
    return this.read((sql) => registry.configGetAll(sql));
  }
  configSet(params: P.ConfigSetParams) {
    return this.write(async (tx, notify) => {
      await registry.configSet(tx, params);
      await notify();
    });
  }
  workerRegister(params: P.WorkerRegisterParams) {
    return this.read((sql) => registry.workerRegister(sql, params));
  }
  workerHeartbeat(params: P.WorkerHeartbeatParams) {
    return this.read((sql) => registry.workerHeartbeat(sql, params));
  }
  workerRemove(params: P.ById) {
    return this.read((sql) => registry.workerRemove(sql, params));
  }
  clockNow() {
    return this.read((sql) => registry.storeNow(sql));
  }
  workerList() {
    return this.read((sql) => registry.workerList(sql));
  }
  workerRequestStop(params: P.WorkerStopParams) {
    return this.write(async (tx, notify) => {
      const asked = await registry.workerRequestStop(tx, params);
      // Idle workers wake now instead of at their next heartbeat.
      if (asked > 0) await notify();
      return asked;
    });
  }

  declaredList() {
    return this.read((sql) => declaredJobs(sql));
  }
  jobfileApply(params: P.JobfileApplyParams) {
    return this.write(async (tx, notify) => {
      const result = await applyJobfileChanges(tx, this.schema, params);
      await notify();
      return result;
    });
  }
  jobDeclarations(params: P.JobDeclarationsParams) {
    return this.read((sql) => jobDeclarations(sql, params));
  }
  completedRevisionList(params: { ids: string[] }) {
    return this.read((sql) => completedRevisionList(sql, params));
  }
  jobDependentEdges(params: { ids: string[] }) {
    return this.read((sql) => dependentEdges(sql, params.ids));
  }

  changeMarker() {
    return this.read(() => this.changes.marker());
  }
  waitForChange(params: P.WaitForChangeParams) {
    return this.read(() => this.changes.wait(params.timeoutMs, params.signal, params.since));
  }

  jobSearch(params: P.JobSearchParams) {
    return this.read((sql) => searchJobs(sql, params));
  }
  jobDependencyLinks(params: P.DependencyLinksParams) {
    return this.read((sql) => dependencyLinks(sql, params));
  }
  attemptThroughput(params: P.ThroughputParams) {
    return this.read((sql) => attemptThroughput(sql, params));
  }
  metricsSnapshot(params: P.MetricsParams) {
    return this.read((sql) => metricsSnapshot(sql, params));
  }

  queueSet(params: P.QueueSetParams) {
    return this.write(async (tx, notify) => {
      await queueSet(tx, params);
      // A resumed queue or a raised limit may have work waiting.
      await notify();
    });
  }
  queueList() {
    return this.read((sql) => queueList(sql));
  }

  queuePausedList() {
    return this.read((sql) => queuePausedList(sql));
  }
  jobPurge(params: P.JobPurgeParams) {
    return this.write((tx) => jobPurge(tx, this.schema, params));
  }
  jobProgressSave(params: P.JobProgressSaveParams) {
    return this.write((tx) => reports.jobProgressSave(tx, params));
  }
  jobResultSave(params: P.JobResultSaveParams) {
    return this.write((tx) => reports.jobResultSave(tx, params));
  }
  jobResults(params: P.JobResultsParams) {
    return this.read((sql) => reports.jobResults(sql, params));
  }

  scheduleUpsert(params: P.ScheduleUpsertParams) {
    return this.write((tx) => schedules.scheduleUpsert(tx, params));
  }
  scheduleGet(params: P.ById) {
    return this.read((sql) => schedules.scheduleGet(sql, params));
  }
  scheduleList() {
    return this.read((sql) => schedules.scheduleList(sql));
  }
  scheduleRemove(params: P.ById) {
    return this.write((tx) => schedules.scheduleRemove(tx, params));
  }
  scheduleDue(params: P.ScheduleDueParams) {
    return this.read((sql) => schedules.scheduleDue(sql, params));
  }
  scheduleFire(params: P.ScheduleFireParams) {
    return this.write(async (tx, notify) => {
      const fired = await schedules.scheduleFire(tx, this.schema, params);
      if (fired.enqueued.length > 0 || fired.replaced.length > 0) await notify();
      return fired;
    });
  }

  folderSyncRecord(params: FolderSyncRun) {
    return this.read((sql) => folders.folderSyncRecord(sql, params));
  }
  folderList() {
    return this.read((sql) => folders.folderList(sql));
  }
  folderWatcherClaim(params: P.FolderWatcherClaimParams) {
    return this.write((tx) => folders.folderWatcherClaim(tx, params));
  }
  folderWatcherBeat(params: P.FolderWatcherBeatParams) {
    return this.read((sql) => folders.folderWatcherBeat(sql, params));
  }
  folderWatcherRemove(params: P.FolderWatcherParams) {
    return this.read((sql) => folders.folderWatcherRemove(sql, params));
  }

  webhookDeliveryClaim(params: P.WebhookDeliveryClaimParams) {
    return claimWhenDue(
      () => this.read((sql) => webhooks.webhookDeliveryDue(sql, params.now)),
      () => this.write((tx) => webhooks.webhookDeliveryClaim(tx, params)),
    );
  }
  webhookDeliveryRecord(params: P.WebhookDeliveryRecordParams) {
    return this.write((tx) => webhooks.webhookDeliveryRecord(tx, params));
  }
  webhookDeliveryList(params: P.WebhookDeliveryListParams) {
    return this.read((sql) => webhooks.webhookDeliveryList(sql, params));
  }
  queueNotifySet(params: P.QueueNotifySetParams) {
    return this.write((tx) => webhooks.queueNotifySet(tx, params));
  }
  queueLimitsSet(params: P.QueueLimitsSetParams) {
    return this.write((tx) => limits.queueLimitsSet(tx, params));
  }
  queueLimitsList() {
    return this.read((sql) => limits.queueLimitsList(sql));
  }
  attemptLimitsSet(params: P.AttemptLimitsSetParams) {
    return this.write((tx) => limits.attemptLimitsSet(tx, params));
  }
  queueNotifyList() {
    return this.read((sql) => webhooks.queueNotifyList(sql));
  }
}

/** Wakes idle workers only when the fenced write went through. */
async function notifyIf<T>(done: T, notify: Notify): Promise<T> {
  if (done) await notify();
  return done;
}
