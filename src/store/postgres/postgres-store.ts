/**
 * The PostgreSQL backend, on Bun's built-in client (Bun.sql), for workers on many hosts
 * sharing one queue. Same Store semantics as the SQLite backend. This class opens the
 * connection, runs writes in transactions that NOTIFY idle workers, and turns connection
 * failures into one-line errors; the SQL lives beside it, one concept per file, with
 * comments where it differs from SQLite.
 *
 * `?schema=NAME` in the URL keeps the queue in its own schema (created if missing), so
 * several queues, or test runs, can share one database.
 */

import { SQL } from "bun";
import { UserError } from "../../core/errors.ts";
import type { Job, JobState, StateCounts } from "../../core/job.ts";
import type { ResourceLimits } from "../../core/resource-limits.ts";
import type { JobSpec } from "../../core/spec.ts";
import type { FolderSyncRun, JobfileFolder } from "../folder-records.ts";
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
import { ChangeListener, changeChannel } from "./changes.ts";
import { claimJob } from "./claim.ts";
import { anyLimitedQueue, claimMany, completeMany } from "./complete-many.ts";
import { describePostgresError, type PostgresTarget, parsePostgresUrl } from "./connection.ts";
import { attemptThroughput, dependencyLinks, metricsSnapshot, searchJobs } from "./dashboard.ts";
import { lockDependenciesExclusive } from "./dependencies.ts";
import * as folders from "./folders.ts";
import { insertJobStream } from "./insert.ts";
import { jobPage } from "./job-list.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { declaredJobs, jobDeclarations } from "./jobfile-declarations.ts";
import { countJobs, getJob, insertJobs, listAttempts, listJobs, transitionJobs } from "./jobs.ts";
import { attemptLimitsSet, queueLimitsList, queueLimitsSet } from "./limits.ts";
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from "./migrations.ts";
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
import { scheduleFire, scheduleGet, scheduleList, scheduleRemove, scheduleUpsert } from "./schedules.ts";
import { exportJobs, importJobStream, importJobs } from "./transfer.ts";

/**
 * Connections per process. A worker needs one for its claim loop and one for heartbeats;
 * the LISTEN connection comes on top. Kept small because many hosts share the server's
 * max_connections (default 100).
 */
const POOL_SIZE = 4;

export async function openPostgresStore(url: string): Promise<PostgresStore> {
  const target = parsePostgresUrl(url);
  const sql = new SQL(target.url, {
    max: POOL_SIZE,
    connectionTimeout: 10,
    idleTimeout: 60,
    connection: { application_name: "queuectl", ...(target.schema ? { search_path: target.schema } : {}) },
  });
  try {
    let schema = target.schema;
    if (schema === null) {
      const [row] = await sql`SELECT current_schema() AS schema`;
      if (!row?.schema) {
        throw new UserError(
          `${target.location}: the search_path names no existing schema to keep the queue in`,
          "add ?schema=queuectl to QUEUECTL_DB",
        );
      }
      schema = String(row.schema);
    }
    // Reading a current schema needs no write: a read-only replica or role can still be read.
    if (!(await schemaIsCurrent(sql, schema))) await migratePostgres(sql, schema, target.location);
    return new PostgresStore(sql, target, schema);
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {});
    throw describePostgresError(target, error);
  }
}

async function schemaIsCurrent(sql: SQL, schema: string): Promise<boolean> {
  const [table] = await sql`SELECT to_regclass(${`${schema}.schema_migrations`}) IS NOT NULL AS present`;
  if (!table?.present) return false;
  const [row] = await sql.unsafe(`SELECT COALESCE(MAX(version), 0) AS v FROM ${schema}.schema_migrations`);
  return Number(row?.v) === POSTGRES_SCHEMA_VERSION;
}

export class PostgresStore implements Store {
  readonly backend = "postgres" as const;
  readonly location: string;
  private readonly changes: ChangeListener;
  private readonly channel: string;

  constructor(
    private readonly sql: SQL,
    private readonly target: PostgresTarget,
    /** The schema holding the tables (`?schema=`, else the server's current_schema()). */
    readonly schema: string,
  ) {
    this.location = target.location;
    this.channel = changeChannel(schema);
    this.changes = new ChangeListener(sql, this.channel);
  }

  /** Raw access for crash-repair tests that must write a crashed state directly. */
  get client(): SQL {
    return this.sql;
  }

  private async run<T>(work: (sql: SQL) => Promise<T>): Promise<T> {
    try {
      return await work(this.sql);
    } catch (error) {
      throw describePostgresError(this.target, error);
    }
  }

  /** One transaction; `notify` wakes idle workers on every host once it commits. */
  private write<T>(work: (tx: SQL, notify: () => Promise<void>) => Promise<T>): Promise<T> {
    return this.run((sql) => sql.begin(async (tx) => work(tx, () => tx.notify(this.channel)))) as Promise<T>;
  }

  async close(): Promise<void> {
    await this.changes.stop().catch(() => {});
    await this.sql.close({ timeout: 5 });
  }

  jobInsertMany(params: { jobs: NewJob[]; now: number; onProgress?: (done: number) => void }): Promise<void> {
    return this.write(async (tx, notify) => {
      await insertJobs(tx, this.schema, params);
      await notify();
    });
  }

  jobInsertStream(params: {
    batches: AsyncIterable<NewJob[]>;
    now: number;
    onProgress?: (done: number) => void;
  }): Promise<number> {
    return this.write(async (tx, notify) => {
      const done = await insertJobStream(tx, this.schema, params);
      await notify();
      return done;
    });
  }

  jobImportStream(params: {
    batches: AsyncIterable<ImportBatch>;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }): Promise<ImportResult> {
    return this.write(async (tx, notify) => {
      const result = await importJobStream(tx, this.schema, params);
      await notify();
      return result;
    });
  }

  jobGet(params: { id: string }): Promise<Job | null> {
    return this.run((sql) => getJob(sql, params.id));
  }

  jobList(params: { state?: JobState; tag?: string; queue?: string; limit?: number; offset?: number }) {
    return this.run((sql) => listJobs(sql, params));
  }

  jobPage(params: JobPageParams): Promise<{ jobs: Job[]; total: number }> {
    return this.run((sql) => jobPage(sql, params));
  }

  jobCounts(): Promise<StateCounts> {
    return this.run((sql) => countJobs(sql));
  }

  jobClaim(params: Parameters<Store["jobClaim"]>[0]) {
    return this.run((sql) => claimJob(sql, params));
  }

  jobLeaseExtend(params: { id: string; token: number; leaseUntil: number }): Promise<boolean> {
    return this.run((sql) => extendLease(sql, params));
  }

  jobLeaseRenewMany(params: { leases: HeldLease[]; leaseUntil: number }): Promise<RenewedLease[]> {
    return this.run((sql) => renewLeases(sql, params));
  }

  jobKillRequest(params: { id: string; mode: KillMode }) {
    return this.run((sql) => requestKill(sql, params));
  }

  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean> {
    return this.write(async (tx, notify) => {
      const done = await completeJob(tx, this.schema, params);
      if (done) await notify();
      return done;
    });
  }

  async jobCompleteAndClaim(
    params: CompleteAndClaimParams,
  ): Promise<{ completed: boolean[]; claimed: Job[] }> {
    const { claim, now } = params;
    const result = await this.write(async (tx, notify) => {
      const completed = await completeMany(tx, this.schema, params.completions, now);
      const claimed = claim ? await claimMany(tx, claim, now) : [];
      if (completed.some(Boolean)) await notify();
      return { completed, claimed };
    });
    // Limited or paused queues are claimed one by one, their queue's row locked first.
    if (claim && result.claimed.length < claim.limit && (await this.run(anyLimitedQueue))) {
      while (result.claimed.length < claim.limit) {
        const job = await this.jobClaim({ ...claim, now });
        if (!job) break;
        result.claimed.push(job);
      }
    }
    return result;
  }

  jobFail(params: Parameters<Store["jobFail"]>[0]): Promise<boolean> {
    return this.write(async (tx, notify) => {
      const done = await failJob(tx, this.schema, params);
      if (done) await notify();
      return done;
    });
  }

  jobRelease(params: { id: string; token: number; now: number; reason: string }): Promise<boolean> {
    return this.write(async (tx, notify) => {
      const done = await releaseJob(tx, params);
      if (done) await notify();
      return done;
    });
  }

  jobExpiredLeases(params: { now: number; limit: number }): Promise<Job[]> {
    return this.run((sql) => expiredLeases(sql, params));
  }

  jobTransition(params: Parameters<Store["jobTransition"]>[0]): Promise<Job[]> {
    return this.write(async (tx, notify) => {
      const moved = await transitionJobs(tx, this.schema, params);
      if (moved.length > 0) await notify();
      return moved;
    });
  }

  attemptList(params: { jobId: string }) {
    return this.run((sql) => listAttempts(sql, params.jobId));
  }

  configGetAll(): Promise<Record<string, string>> {
    return this.run((sql) => registry.configGetAll(sql));
  }

  configSet(params: { key: string; value: string }): Promise<void> {
    return this.write(async (tx, notify) => {
      await registry.configSet(tx, params);
      await notify();
    });
  }

  workerRegister(params: { id: string; host: string; pid: number; now: number; queues: string[] | null }) {
    return this.run((sql) => registry.workerRegister(sql, params));
  }

  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }> {
    return this.run((sql) => registry.workerHeartbeat(sql, params));
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.run((sql) => registry.workerRemove(sql, params.id));
  }

  workerList(): Promise<WorkerRecord[]> {
    return this.run((sql) => registry.workerList(sql));
  }

  clockNow(): Promise<number> {
    return this.run((sql) => registry.storeNow(sql));
  }

  workerRequestStop(params: { host?: string }): Promise<number> {
    return this.write(async (tx, notify) => {
      const asked = await registry.workerRequestStop(tx, params.host ?? null);
      // Idle workers wake now instead of at their next heartbeat.
      if (asked > 0) await notify();
      return asked;
    });
  }

  declaredList(): Promise<DeclaredJob[]> {
    return this.run((sql) => declaredJobs(sql));
  }

  jobfileApply(params: { changes: JobfileChanges; now: number }): Promise<JobfileApplyResult> {
    return this.write(async (tx, notify) => {
      const result = await applyJobfileChanges(tx, this.schema, params.changes, params.now);
      await notify();
      return result;
    });
  }

  jobDeclarations(params: { ids: string[] }): Promise<JobDeclaration[]> {
    return this.run((sql) => jobDeclarations(sql, params.ids));
  }

  jobExport(params: { state?: JobState; after: string | null; limit: number }) {
    return this.run((sql) => exportJobs(sql, params));
  }

  jobImportMany(params: {
    jobs: JobRecord[];
    settings?: StoreSettings;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }) {
    return this.write(async (tx, notify) => {
      if (params.jobs.some((job) => job.spec.after)) await lockDependenciesExclusive(tx, this.schema);
      const result = await importJobs(tx, this.schema, params);
      await notify();
      return result;
    });
  }

  changeMarker(): Promise<string> {
    return this.run(() => this.changes.marker());
  }

  waitForChange(params: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    return this.run(() => this.changes.wait(params.timeoutMs, params.signal));
  }

  jobSearch(params: JobSearchParams): Promise<Job[]> {
    return this.run((sql) => searchJobs(sql, params));
  }

  jobDependencyLinks(params: { id: string; limit: number }): Promise<JobDependencyLinks> {
    return this.run((sql) => dependencyLinks(sql, params.id, params.limit));
  }

  attemptThroughput(params: { since: number; bucketMs: number }): Promise<ThroughputBucket[]> {
    return this.run((sql) => attemptThroughput(sql, params.since, params.bucketMs));
  }

  metricsSnapshot(params: { now: number; durationBoundsMs: number[]; waitBoundsMs: number[] }) {
    return this.run((sql) => metricsSnapshot(sql, params.now, params.durationBoundsMs, params.waitBoundsMs));
  }

  queueSet(params: { name: string; concurrency?: number | null; paused?: boolean }): Promise<void> {
    return this.write(async (tx, notify) => {
      await queueSet(tx, params);
      // A resumed queue or a raised limit may have work waiting.
      await notify();
    });
  }

  queueList(): Promise<QueueInfo[]> {
    return this.run((sql) => queueList(sql));
  }

  queueLimitsSet(params: { name: string; limits: ResourceLimits | null }): Promise<void> {
    return this.write((tx) => queueLimitsSet(tx, params));
  }

  queueLimitsList(): Promise<Record<string, ResourceLimits>> {
    return this.run((sql) => queueLimitsList(sql));
  }

  attemptLimitsSet(params: { jobId: string; token: number; limits: string }): Promise<void> {
    return this.write((tx) => attemptLimitsSet(tx, params));
  }

  jobPurge(params: Parameters<Store["jobPurge"]>[0]): Promise<string[]> {
    return this.write((tx) => jobPurge(tx, params));
  }

  scheduleUpsert(params: {
    id: string;
    spec: JobSpec;
    revision: string;
    source: string | null;
    nextAt: number | null;
    now: number;
  }): Promise<"created" | "updated" | "unchanged"> {
    return this.write((tx) => scheduleUpsert(tx, params));
  }

  scheduleGet(params: { id: string }): Promise<ScheduleRecord | null> {
    return this.run((sql) => scheduleGet(sql, params.id));
  }

  scheduleList(): Promise<ScheduleRecord[]> {
    return this.run((sql) => scheduleList(sql));
  }

  scheduleRemove(params: { id: string }): Promise<boolean> {
    return this.write((tx) => scheduleRemove(tx, params.id));
  }

  scheduleDue(params: { now: number }): Promise<ScheduleRecord[]> {
    return this.run((sql) => scheduleList(sql, params.now));
  }

  scheduleFire(params: {
    id: string;
    expectedNextAt: number;
    nextAt: number | null;
    occurrences: NewJob[];
    overlap: "allow" | "skip" | "replace";
    now: number;
  }): Promise<{ enqueued: string[]; skipped: string[]; replaced: string[] }> {
    return this.write(async (tx, notify) => {
      const fired = await scheduleFire(tx, this.schema, params);
      if (fired.enqueued.length > 0 || fired.replaced.length > 0) await notify();
      return fired;
    });
  }

  folderSyncRecord(params: FolderSyncRun): Promise<void> {
    return this.run((sql) => folders.folderSyncRecord(sql, params));
  }
  folderList(): Promise<JobfileFolder[]> {
    return this.run((sql) => folders.folderList(sql));
  }
  folderWatcherClaim(params: Parameters<Store["folderWatcherClaim"]>[0]): Promise<boolean> {
    return this.write((tx) => folders.folderWatcherClaim(tx, params));
  }
  folderWatcherBeat(params: Parameters<Store["folderWatcherBeat"]>[0]): Promise<void> {
    return this.run((sql) => folders.folderWatcherBeat(sql, params));
  }
  folderWatcherRemove(params: Parameters<Store["folderWatcherRemove"]>[0]): Promise<void> {
    return this.run((sql) => folders.folderWatcherRemove(sql, params));
  }
}
