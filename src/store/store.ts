/**
 * The Store: every read and write of queue state. Async from day one so SQLite and
 * PostgreSQL share one interface; methods are noun-first and take one params object.
 * Everything above this folder talks to a Store and never to SQL.
 *
 * The records it hands back live in records.ts and its params in params.ts; both are
 * re-exported here, so callers import every store type from this one file.
 */

import type { DependencyEdge } from "../core/dependencies.ts";
import type { Attempt, Job, StateCounts } from "../core/job.ts";
import type { CompletedRevisionOf } from "../core/reconcile.ts";
import type { ResourceLimits } from "../core/resource-limits.ts";
import type { FolderSyncRun, JobfileFolder } from "./folder-records.ts";
import type * as P from "./params.ts";
import type {
  DeclaredJob,
  ImportResult,
  JobDeclaration,
  JobDependencyLinks,
  JobFailResult,
  JobfileApplyResult,
  JobNextDueParams,
  JobResult,
  MetricsSnapshot,
  QueueInfo,
  RenewedLease,
  ScheduleRecord,
  ThroughputBucket,
  WorkerRecord,
} from "./records.ts";
import type { QueueNotify, WebhookDelivery } from "./webhook-records.ts";

export type * from "./params.ts";
export type * from "./records.ts";
export type * from "./webhook-records.ts";

export interface Store {
  readonly backend: "sqlite" | "postgres";
  /** Where the store lives, for messages (never includes a password). */
  readonly location: string;
  /**
   * Rows per batch of a streamed insert that suit this store: SQLite writes each batch as
   * it comes, so small ones keep it busy; PostgreSQL pays two round trips a batch.
   */
  readonly streamBatchRows: number;
  close(): Promise<void>;

  /**
   * All or nothing, in one transaction. A duplicate id throws a UserError naming it, and so
   * does an id a schedule claims: a schedule's own, or one of its occurrence ids
   * (`<schedule id>@<instant>`, core/occurrence-id.ts).
   */
  jobInsertMany(params: P.JobInsertParams): Promise<void>;
  /**
   * Like jobInsertMany for input that streams in batches (an NDJSON file) instead of sitting
   * in memory: one transaction, committed after the last batch; a duplicate or claimed id,
   * or an error thrown by the batches themselves, stores nothing. Nothing else may write
   * through this store while it runs. Returns how many jobs went in.
   */
  jobInsertStream(params: P.JobInsertStreamParams): Promise<number>;
  /** Jobs in insertion order, `limit` at a time; pass `next` back as `after` to continue (null: done). */
  jobExport(params: P.JobExportParams): Promise<P.JobExportPage>;
  /**
   * Restores exported jobs with their state and attempt history, and any settings, all or
   * nothing in one transaction. A job or schedule id that already exists throws a UserError
   * naming it; with `merge` it is skipped (and counted), and config values and queue
   * settings the store already has are kept.
   */
  jobImportMany(params: P.JobImportParams): Promise<ImportResult>;
  /** jobImportMany for an export that streams in batches, with the same all-or-nothing rules. */
  jobImportStream(params: P.JobImportStreamParams): Promise<ImportResult>;
  /**
   * The completed revisions of ids that have no job row (jobfile jobs purged), by id, then
   * revision: `export` writes them, as jobExport's records carry only the ids that have a row.
   */
  purgedRevisionList(): Promise<CompletedRevisionOf[]>;
  jobGet(params: P.ById): Promise<Job | null>;
  /**
   * jobGet of each of `ids` (null where there is none), waiting for nothing the store's other
   * work waits for: on PostgreSQL one connection of its own for them all, beside a pool whose
   * connections may wait on a row lock. For the lease watch (worker/lease-watch.ts), which
   * asks rarely.
   */
  jobsGetApart(params: { ids: string[] }): Promise<(Job | null)[]>;
  /** Insertion order. */
  jobList(params: P.JobListParams): Promise<Job[]>;
  jobCounts(): Promise<StateCounts>;
  /**
   * Newest first (or oldest), with how many jobs match in all. Must stay fast on 100k jobs: the page is
   * a LIMIT on the seq order and the count an index scan (see sqlite/job-reads.ts).
   */
  jobPage(params: P.JobPageParams): Promise<P.JobPage>;

  /**
   * Atomically claims the next runnable job (priority, then next_run_at, then insertion
   * order), bumps its attempts and fencing token, sets the lease and records the attempt.
   */
  jobClaim(params: P.JobClaimParams): Promise<Job | null>;
  /**
   * When the next job a claim could take falls due, after `params.after`: the earliest
   * `next_run_at` of a waiting job (a delay, `run_at`, a retry's backoff) in a served,
   * unpaused queue. Null when none waits. An idle worker sleeps until then, not a whole poll.
   */
  jobNextDueAt(params: JobNextDueParams): Promise<number | null>;
  /** Renews a lease; false when the token no longer holds it (the job was rescued). */
  jobLeaseExtend(params: P.LeaseExtendParams): Promise<boolean>;
  /**
   * Renews every lease of `leases` still held, in one statement. A lease missing from the
   * answer was lost (a newer claim owns the job, or it ended).
   */
  jobLeaseRenewMany(params: P.LeaseRenewParams): Promise<RenewedLease[]>;
  /**
   * Records a kill request on a running job, for its worker to act on at its next renewal.
   * Returns the claim it applies to, or null when the job is not processing.
   */
  jobKillRequest(params: P.KillRequestParams): Promise<P.KillTarget | null>;
  /** Fenced by `token`: false (and no change) when a newer claim owns the job. */
  jobComplete(params: P.JobCompleteParams): Promise<boolean>;
  /**
   * A worker's hot path in one transaction: completes each of `completions` exactly as
   * `jobComplete` would (`completed[i]` is its answer), then claims up to `claim.limit`
   * jobs as `jobClaim` would, each with its own attempt row, token and lease.
   */
  jobCompleteAndClaim(params: P.CompleteAndClaimParams): Promise<P.CompleteAndClaimResult>;
  /**
   * Records a failed run as `failed` (claimable at `nextRunAt`), `dead`, or `canceled` (a
   * kill). Fenced by `token`; with `onlyIfLeaseExpiredBefore` it also requires the lease to
   * have lapsed (the rescue path). Returns the state written, which its jobfile may have
   * changed (see JobFailResult), or null (and no change) when the fence refused it.
   */
  jobFail(params: P.JobFailParams): Promise<JobFailResult | null>;
  /**
   * Hands a running job back to `pending` without counting the attempt (a forced stop).
   * Refused (false) while a `kill` is asked for, which then decides how the run ends.
   */
  jobRelease(params: P.JobReleaseParams): Promise<boolean>;
  /** Processing jobs whose lease ran out before `now`. */
  jobExpiredLeases(params: P.ExpiredLeasesParams): Promise<Job[]>;
  /**
   * Moves jobs in one of `from` to `to` (pending or canceled); `resetAttempts` starts the
   * count again. With no `id`, every job in `from` moves. Returns the jobs that moved.
   */
  jobTransition(params: P.JobTransitionParams): Promise<Job[]>;
  attemptList(params: P.AttemptListParams): Promise<Attempt[]>;

  configGetAll(): Promise<Record<string, string>>;
  configSet(params: P.ConfigSetParams): Promise<void>;

  workerRegister(params: P.WorkerRegisterParams): Promise<void>;
  /**
   * Records a heartbeat; returns whether someone asked this worker to stop (e.g. `worker
   * stop --all`). `now` is the worker's clock; PostgreSQL records the server's clock
   * instead (also at register), so that every host judges a heartbeat's age on one clock.
   */
  workerHeartbeat(params: P.WorkerHeartbeatParams): Promise<P.WorkerHeartbeatResult>;
  workerRemove(params: P.ById): Promise<void>;
  /** The clock heartbeats are judged by: this host's for SQLite, the server's for PostgreSQL. */
  clockNow(): Promise<number>;
  workerList(): Promise<WorkerRecord[]>;
  /** Asks workers to drain: those on `host`, or every host when it is omitted. */
  workerRequestStop(params: P.WorkerStopParams): Promise<number>;

  /** Jobs that came from jobfiles, with what was last applied. */
  declaredList(): Promise<DeclaredJob[]>;
  /**
   * Applies a reconciliation in one transaction: re-reads each row and carries out what
   * src/core/reconcile.ts decides for it, so it is safe when two watchers race and a
   * revision the id completed is never queued, whatever happened since the plan.
   */
  jobfileApply(params: P.JobfileApplyParams): Promise<JobfileApplyResult>;
  /**
   * What the reconcile rules need to know about each existing id among `ids` (its state,
   * revisions, owner, completed revisions and the dependents it canceled). Ids that do not
   * exist are left out.
   */
  jobDeclarations(params: P.JobDeclarationsParams): Promise<JobDeclaration[]>;
  /**
   * Every revision each of `ids` completed, whether or not the id still has a row: a purge
   * deletes finished rows but keeps this memory, so a sync never runs such a revision again.
   */
  completedRevisionList(params: { ids: string[] }): Promise<CompletedRevisionOf[]>;
  /**
   * Every `after` edge downstream of `ids`, through any number of links, with the waiting
   * job's state: a plan decides from it (core/dependencies.ts, cascadeOf) what canceling
   * them cancels too.
   */
  jobDependentEdges(params: { ids: string[] }): Promise<DependencyEdge[]>;

  /**
   * A value that changes whenever another connection commits. Idle workers compare it to
   * wake within milliseconds instead of waiting a full poll interval.
   */
  changeMarker(): Promise<string>;

  /**
   * Resolves when another process may have queued work (a commit on SQLite, a NOTIFY on
   * PostgreSQL) or after `timeoutMs`, whichever comes first. Never rejects on timeout.
   */
  waitForChange(params: P.WaitForChangeParams): Promise<void>;

  /** The dashboard's job list and search; must stay fast on 100k jobs (index on state, seq). */
  jobSearch(params: P.JobSearchParams): Promise<Job[]>;
  /** For the dashboard's job detail: what the job waits for, and what waits for it. */
  jobDependencyLinks(params: P.DependencyLinksParams): Promise<JobDependencyLinks>;
  /** Finished attempts per `bucketMs` since `since`, oldest first; empty buckets are omitted. */
  attemptThroughput(params: P.ThroughputParams): Promise<ThroughputBucket[]>;
  /** Counters and histograms for `/metrics`; `now` decides which pending jobs are due. */
  metricsSnapshot(params: P.MetricsParams): Promise<MetricsSnapshot>;

  /** Creates or changes a named queue's limit or pause switch; omitted fields stay as they are. */
  queueSet(params: P.QueueSetParams): Promise<void>;
  /** Every queue that has jobs or settings. */
  queueList(): Promise<QueueInfo[]>;
  /** The names of paused queues, without counting jobs (queueList reads the whole jobs table). */
  queuePausedList(): Promise<string[]>;
  /** Sets (or with null clears) a queue's default resource limits, creating the queue if needed. */
  queueLimitsSet(params: P.QueueLimitsSetParams): Promise<void>;
  /** The default limits of every queue that has some, by queue name. */
  queueLimitsList(): Promise<Record<string, ResourceLimits>>;
  /** Notes on a running attempt which limits applied and how (`show` prints it). */
  attemptLimitsSet(params: P.AttemptLimitsSetParams): Promise<void>;
  /**
   * Deletes finished jobs (with their attempts) in `states` that finished before
   * `finishedBefore`. Never touches pending or running jobs, nor jobs a jobfile still
   * declares (their row is what keeps a re-sync from running them again).
   */
  jobPurge(params: P.JobPurgeParams): Promise<string[]>;

  /** Records what running attempts reported; fenced by token, so a stale attempt changes nothing. */
  jobProgressSave(params: P.JobProgressSaveParams): Promise<number>;
  /** The result of attempt `token`, saved before that attempt is recorded; fenced like jobProgressSave. */
  jobResultSave(params: P.JobResultSaveParams): Promise<boolean>;
  /** The stored results of `ids` (a job's dependencies); unknown ids are left out. */
  jobResults(params: P.JobResultsParams): Promise<JobResult[]>;

  /** Creates or replaces a schedule. A changed revision recomputes `nextAt`. */
  scheduleUpsert(params: P.ScheduleUpsertParams): Promise<P.ScheduleUpsertOutcome>;
  scheduleGet(params: P.ById): Promise<ScheduleRecord | null>;
  scheduleList(): Promise<ScheduleRecord[]>;
  /** Stops future occurrences; occurrences already queued stay. */
  scheduleRemove(params: P.ById): Promise<boolean>;
  scheduleDue(params: P.ScheduleDueParams): Promise<ScheduleRecord[]>;
  /**
   * Records that a schedule fired: moves `next_at` from `expectedNextAt` (compare-and-set, so
   * two tickers never both fire), then enqueues, skips and cancels occurrences as
   * `decideOccurrences` (core/schedule-tick.ts) decides from `occurrences` (owed now, oldest
   * first) and the schedule's unfinished occurrences, in the same transaction.
   */
  scheduleFire(params: P.ScheduleFireParams): Promise<P.ScheduleFireResult>;

  /** Replaces the folder's last-sync record. */
  folderSyncRecord(params: FolderSyncRun): Promise<void>;
  /** Every folder with a sync record or a watcher, by path, with its watchers. */
  folderList(): Promise<JobfileFolder[]>;
  /**
   * Registers this process as the folder's watcher on `host`: true when there was none, or
   * when the row still names `replacePid` (one the caller found dead). False means another
   * watcher holds it. The rule of who may replace whom is the caller's.
   */
  folderWatcherClaim(params: P.FolderWatcherClaimParams): Promise<boolean>;
  /** Refreshes the heartbeat; `error` (a message, or null to keep the last one) is recorded with `now`. */
  folderWatcherBeat(params: P.FolderWatcherBeatParams): Promise<void>;
  folderWatcherRemove(params: P.FolderWatcherParams): Promise<void>;

  /**
   * Webhook deliveries. Their rows are written by jobComplete and jobFail themselves, in the
   * same transaction as the state change, for the URLs src/core/notify.ts picks.
   * Claims up to `limit` due deliveries for `claimId` until `now + leaseMs`: no other claim
   * gets them meanwhile, and one whose sender died falls due again when the lease ends.
   */
  webhookDeliveryClaim(params: P.WebhookDeliveryClaimParams): Promise<WebhookDelivery[]>;
  /** Records one try of a claimed delivery; false (no change) when `claimId` lost it. */
  webhookDeliveryRecord(params: P.WebhookDeliveryRecordParams): Promise<boolean>;
  /** A job's deliveries, oldest first. */
  webhookDeliveryList(params: P.WebhookDeliveryListParams): Promise<WebhookDelivery[]>;
  /** Sets a queue's webhook receivers; null or [] clears them. */
  queueNotifySet(params: P.QueueNotifySetParams): Promise<void>;
  /** Every queue with webhook receivers, by name. */
  queueNotifyList(): Promise<QueueNotify[]>;
}
