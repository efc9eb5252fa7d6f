/**
 * The PostgreSQL backend, on Bun's built-in client (Bun.sql), for workers on many hosts
 * sharing one queue. Same Store semantics as the SQLite backend; the SQL lives beside it
 * (run.ts, jobfile-apply.ts, transfer.ts, dashboard.ts) with comments where it differs.
 *
 * `?schema=NAME` in the URL keeps the queue in its own schema (created if missing), so
 * several queues, or test runs, can share one database.
 */

import { SQL } from "bun";
import { UserError } from "../../core/errors.ts";
import { emptyStateCounts, type Job, type JobState, type StateCounts } from "../../core/job.ts";
import type { JobSpec } from "../../core/spec.ts";
import { rowToAttempt, rowToJob, rowToWorker } from "../rows.ts";
import { duplicateIdError } from "../sqlite/insert.ts";
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
  ThroughputBucket,
  WorkerRecord,
} from "../store.ts";
import { ChangeListener, changeChannel } from "./changes.ts";
import { claimJob } from "./claim.ts";
import { describePostgresError, type PostgresTarget, parsePostgresUrl } from "./connection.ts";
import { attemptThroughput, metricsSnapshot, searchJobs } from "./dashboard.ts";
import {
  cancelDependents,
  lockDependenciesExclusive,
  rearmDependents,
  setDependencies,
} from "./dependencies.ts";
import { firstRejected, INSERT_BATCH, insertNewJobs } from "./insert.ts";
import { applyJobfileChanges } from "./jobfile-apply.ts";
import { migratePostgres } from "./migrations.ts";
import { jobPurge, queueList, queueSet } from "./queues.ts";
import { completeJob, expiredLeases, extendLease, failJob, pgText, releaseJob } from "./run.ts";
import { scheduleFire, scheduleGet, scheduleList, scheduleRemove, scheduleUpsert } from "./schedules.ts";
import { exportJobs, importJobs } from "./transfer.ts";

type Row = Record<string, unknown>;

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
    await migratePostgres(sql, schema, target.location);
    return new PostgresStore(sql, target, schema);
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {});
    throw describePostgresError(target, error);
  }
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
    const withDependencies = params.jobs.filter((job) => job.spec.after);
    return this.write(async (tx, notify) => {
      if (withDependencies.length > 0) await lockDependenciesExclusive(tx, this.schema);
      for (let start = 0; start < params.jobs.length; start += INSERT_BATCH) {
        const batch = params.jobs.slice(start, start + INSERT_BATCH);
        const inserted = await insertNewJobs(tx, batch, params.now);
        const rejected = firstRejected(
          batch.map((job) => job.spec.id),
          inserted,
        );
        if (rejected !== undefined) throw duplicateIdError(rejected);
        params.onProgress?.(Math.min(start + INSERT_BATCH, params.jobs.length));
      }
      if (params.jobs.length === 0) params.onProgress?.(0);
      // Dependencies are recorded after every row exists, so a batch may list a pipeline in any order.
      for (const job of withDependencies) await setDependencies(tx, job.spec.id, job.spec.after, params.now);
      await notify();
    });
  }

  jobGet(params: { id: string }): Promise<Job | null> {
    return this.run(async (sql) => {
      const [row] = await sql`SELECT * FROM jobs WHERE id = ${params.id}`;
      return row ? rowToJob(row) : null;
    });
  }

  jobList(params: { state?: JobState; tag?: string; queue?: string; limit?: number; offset?: number }) {
    const state = params.state ?? null;
    const tag = params.tag ?? null;
    const queue = params.queue ?? null;
    return this.run(async (sql) => {
      const rows = await sql`
        SELECT * FROM jobs
        WHERE (${state}::text IS NULL OR state = ${state}::text)
          AND (${tag}::text IS NULL OR tags @> jsonb_build_array(${tag}::text))
          AND (${queue}::text IS NULL OR queue = ${queue}::text)
        ORDER BY seq LIMIT ${params.limit ?? null}::bigint OFFSET ${params.offset ?? 0}::bigint`;
      return (rows as Row[]).map(rowToJob);
    });
  }

  jobCounts(): Promise<StateCounts> {
    return this.run(async (sql) => {
      const counts = emptyStateCounts();
      for (const row of await sql`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`) {
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
    return this.run((sql) => claimJob(sql, params));
  }

  jobLeaseExtend(params: { id: string; token: number; leaseUntil: number }): Promise<boolean> {
    return this.run((sql) => extendLease(sql, params));
  }

  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean> {
    return this.write(async (tx, notify) => {
      const done = await completeJob(tx, this.schema, params);
      if (done) await notify();
      return done;
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

  jobTransition(params: {
    id?: string;
    from: readonly JobState[];
    to: "pending" | "canceled";
    resetAttempts: boolean;
    now: number;
    reason?: string;
  }): Promise<Job[]> {
    const id = params.id ?? null;
    const reason = pgText(params.reason ?? null);
    return this.write(async (tx, notify) => {
      await lockDependenciesExclusive(tx, this.schema);
      // RETURNING has no order in PostgreSQL; SQLite returns rowid order, so sort to match.
      const rows = await tx`
        WITH moved AS (
          UPDATE jobs SET state = ${params.to}, updated_at = ${params.now}::bigint,
                          attempts = CASE WHEN ${params.resetAttempts}::boolean THEN 0 ELSE attempts END,
                          next_run_at = CASE WHEN ${params.to}::text = 'pending' THEN ${params.now}::bigint
                                             ELSE next_run_at END,
                          finished_at = CASE WHEN ${params.to}::text = 'canceled' THEN ${params.now}::bigint END,
                          last_error = COALESCE(${reason}::text, last_error)
          WHERE (${id}::text IS NULL OR id = ${id}::text) AND state = ANY(${[...params.from]}::text[])
          RETURNING *)
        SELECT * FROM moved ORDER BY seq`;
      const moved = (rows as Row[]).map(rowToJob);
      for (const job of moved) {
        if (params.to === "canceled") {
          await cancelDependents(tx, job.id, "canceled", params.now);
        } else {
          await rearmDependents(tx, job.id, params.now);
          await setDependencies(tx, job.id, job.spec.after, params.now);
        }
      }
      if (moved.length > 0) await notify();
      return moved;
    });
  }

  attemptList(params: { jobId: string }) {
    return this.run(async (sql) =>
      ((await sql`SELECT * FROM attempts WHERE job_id = ${params.jobId} ORDER BY token`) as Row[]).map(
        rowToAttempt,
      ),
    );
  }

  configGetAll(): Promise<Record<string, string>> {
    return this.run(async (sql) => {
      const rows = (await sql`SELECT key, value FROM config`) as { key: string; value: string }[];
      return Object.fromEntries(rows.map((row) => [row.key, row.value]));
    });
  }

  configSet(params: { key: string; value: string }): Promise<void> {
    return this.write(async (tx, notify) => {
      await tx`INSERT INTO config (key, value) VALUES (${params.key}, ${params.value})
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
      await notify();
    });
  }

  workerRegister(params: { id: string; host: string; pid: number; now: number; queues: string[] | null }) {
    const queues = params.queues ? JSON.stringify(params.queues) : null;
    return this.run(async (sql) => {
      await sql`
        INSERT INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
        VALUES (${params.id}, ${params.host}, ${params.pid}::int, ${params.now}::bigint, ${params.now}::bigint,
                FALSE, ${queues}::text::jsonb)
        ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
                                       heartbeat_at = EXCLUDED.heartbeat_at, stop_requested = FALSE,
                                       queues = EXCLUDED.queues`;
    });
  }

  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }> {
    return this.run(async (sql) => {
      const [row] = await sql`
        UPDATE workers SET heartbeat_at = ${params.now}::bigint WHERE id = ${params.id} RETURNING stop_requested`;
      return { stopRequested: row ? Boolean(row.stop_requested) : false };
    });
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.run(async (sql) => {
      await sql`DELETE FROM workers WHERE id = ${params.id}`;
    });
  }

  workerList(): Promise<WorkerRecord[]> {
    // COLLATE "C" sorts host names bytewise, as SQLite does, whatever the database's locale.
    return this.run(async (sql) =>
      ((await sql`SELECT * FROM workers ORDER BY host COLLATE "C", started_at`) as Row[]).map(rowToWorker),
    );
  }

  workerRequestStop(params: { host?: string }): Promise<number> {
    const host = params.host ?? null;
    return this.write(async (tx, notify) => {
      const result = await tx`
        UPDATE workers SET stop_requested = TRUE WHERE ${host}::text IS NULL OR host = ${host}::text`;
      // Idle workers wake now instead of at their next heartbeat.
      if (result.count > 0) await notify();
      return result.count;
    });
  }

  declaredList(): Promise<DeclaredJob[]> {
    return this.run(async (sql) =>
      (
        (await sql`
          SELECT id, source, revision, state, declared FROM jobs WHERE source IS NOT NULL ORDER BY seq`) as Row[]
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
    return this.write(async (tx, notify) => {
      const result = await applyJobfileChanges(tx, this.schema, params.changes, params.now);
      await notify();
      return result;
    });
  }

  jobDeclarations(params: { ids: string[] }): Promise<JobDeclaration[]> {
    return this.run(async (sql) =>
      (
        (await sql`SELECT id, source, next_revision FROM jobs WHERE id = ANY(${params.ids}::text[])`) as Row[]
      ).map((row) => ({
        id: String(row.id),
        source: row.source === null ? null : String(row.source),
        nextRevision: row.next_revision === null ? null : String(row.next_revision),
      })),
    );
  }

  jobExport(params: { state?: JobState; after: string | null; limit: number }) {
    return this.run((sql) => exportJobs(sql, params));
  }

  jobImportMany(params: { jobs: JobRecord[]; onProgress?: (done: number) => void }): Promise<void> {
    return this.write(async (tx, notify) => {
      if (params.jobs.some((job) => job.spec.after)) await lockDependenciesExclusive(tx, this.schema);
      await importJobs(tx, params.jobs, params.onProgress);
      await notify();
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

  jobPurge(params: { states: JobState[]; finishedBefore: number; dryRun: boolean }): Promise<string[]> {
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
      const fired = await scheduleFire(tx, params);
      if (fired.enqueued.length > 0 || fired.replaced.length > 0) await notify();
      return fired;
    });
  }
}
