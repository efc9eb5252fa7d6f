/**
 * The Store: every read and write of queue state. Async from day one so SQLite and
 * PostgreSQL share one interface; methods are noun-first and take one params object.
 * Everything above this folder talks to a Store and never to SQL.
 */

import type { Attempt, Job, JobState, StateCounts } from "../core/job.ts";
import type { JobFacts, JobfileAction } from "../core/reconcile.ts";
import type { ResourceLimits } from "../core/resource-limits.ts";
import type { JobSpec } from "../core/spec.ts";
import type { FolderSyncRun, JobfileFolder } from "./folder-records.ts";

export interface NewJob {
  spec: JobSpec;
  revision: string;
  /** Resolved at enqueue from the spec or the `max-retries` config. */
  maxRetries: number;
  nextRunAt: number;
  source: string | null;
}

/** What a finished run reports. */
export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  logPath: string | null;
  outputTail: string | null;
}

/** A lease a worker holds: the job and the fencing token of its claim. */
export interface CompletedRun {
  id: string;
  token: number;
  result: RunResult;
}

export interface CompleteAndClaimParams {
  completions: CompletedRun[];
  /** Null claims nothing. */
  claim: { workerId: string; host: string; leaseMs: number; queues?: string[] | null; limit: number } | null;
  now: number;
}

export interface HeldLease {
  id: string;
  token: number;
}

/** What `kill` asked for: end the job `canceled`, or count the attempt as failed (`retry`). */
export type KillMode = NonNullable<Job["kill_requested"]>;

/** A lease that was renewed, with any kill request waiting for its worker. */
export interface RenewedLease extends HeldLease {
  killRequested: KillMode | null;
}

export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  stop_requested: boolean;
  /** The queues it serves, or null for all. */
  queues: string[] | null;
}

/** A job's declaration as the store last applied it from a jobfile. */
export interface DeclaredJob {
  id: string;
  source: string;
  revision: string;
  state: JobState;
  /** Whether the jobfile still declares it (false once its file was removed). */
  declared: boolean;
  /** The jobs folder (real path) that declared it; null for rows declared before owners were kept. */
  owner: string | null;
}

/** A declaration a jobs folder sends; the store decides its action again against the row it re-reads. */
export interface DeclaredChange extends NewJob {
  source: string;
  /** The declaring folder's real path. */
  owner: string;
  /** The folder whose job this one may take over (the plan showed it), or null. */
  adoptFrom: string | null;
}

export interface JobfileChanges {
  declarations: DeclaredChange[];
  /** Ids the folder `owner` no longer declares. */
  removals: { id: string; owner: string }[];
}

/** How an existing id is stored, as the reconcile rules read it (src/core/reconcile.ts). */
export type JobDeclaration = JobFacts;

/**
 * The ids each action of the reconcile table was applied to. An id the apply refused
 * (an ad hoc job or another folder took it since the plan was made) is in none of them.
 */
export type JobfileApplyResult = Record<JobfileAction, string[]> & {
  /** Dependents armed again because the job they wait for is declared again. */
  rearmed: string[];
};

/** A page of jobs for the dashboard, newest first. Conditions that are absent do not filter. */
export interface JobSearchParams {
  /** A case-insensitive substring of the id. */
  idContains?: string;
  state?: JobState;
  tag?: string;
  limit: number;
  offset: number;
}

/** `list`'s filters: absent conditions do not filter; several states match any of them. */
export interface JobPageParams {
  states?: JobState[];
  tag?: string;
  queue?: string;
  /** At most this many jobs; null for all. */
  limit: number | null;
  /** Newest first (default), or insertion order, which `list --json` has always used. */
  order?: "newest" | "oldest";
}

/** A job named in another's `after` list, with its state (null: no such job, e.g. purged). */
export interface JobLink {
  id: string;
  state: JobState | null;
}

/** A job's direct dependencies (`after`) and the jobs that wait for it. */
export interface JobDependencyLinks {
  upstream: JobLink[];
  /** The first `limit` dependents, oldest first. */
  downstream: JobLink[];
  downstreamTotal: number;
}

/** Attempts that finished in one time bucket, split by outcome. */
export interface ThroughputBucket {
  /** The bucket's start, in ms since the epoch, a multiple of the bucket size. */
  start: number;
  succeeded: number;
  failed: number;
}

/** A cumulative histogram: `counts[i]` observations were at most `boundsMs[i]`; `count` is +Inf. */
export interface HistogramCounts {
  boundsMs: number[];
  counts: number[];
  count: number;
  sumMs: number;
}

/** Finished attempts of one queue's jobs, by outcome (see MetricsSnapshot). */
export interface QueueAttemptCounts {
  queue: string;
  completed: number;
  failed: number;
  dead: number;
  /** Attempts started after the first one of a run (attempt number > 1). */
  retries: number;
}

/**
 * Aggregates for `/metrics`, derived from the attempts table so they only grow while
 * history is kept: each finished attempt either completed its job, scheduled a retry
 * (the job became `failed`) or used the last retry (the job became `dead`).
 */
export interface MetricsSnapshot {
  /** One entry per queue that has attempts, by the queue of the attempt's job. */
  attemptsByQueue: QueueAttemptCounts[];
  /** finished_at − started_at of every finished attempt. */
  duration: HistogramCounts;
  /** From enqueue (or the job's run_at/delay) to the start of its first-ever attempt. */
  wait: HistogramCounts;
  /**
   * Per queue with such jobs: since when the longest-waiting pending job that is due and not
   * blocked by dependencies has been waiting, i.e. the later of its enqueue and its
   * next_run_at (a run_at in the past does not make a fresh job look old).
   */
  oldestDueByQueue: { queue: string; since: number }[];
}

/**
 * A job as `export` writes it and `import` restores it: enough to move a queue to another
 * store, or to back it up. Timestamps are ms since the epoch, as in Job.
 */
export interface JobRecord {
  id: string;
  spec: JobSpec;
  revision: string;
  /** Never `processing`: a running job travels as `pending`, its unfinished attempt uncounted. */
  state: JobState;
  attempts: number;
  max_retries: number;
  created_at: number;
  updated_at: number;
  next_run_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  last_error: string | null;
  source: string | null;
  /** False once the jobfile that declared it was removed. */
  declared: boolean;
  /** Every revision this id has completed, so a later sync never runs one of them again. */
  completed_revisions: string[];
  /** The dependency whose death or cancellation canceled this job; retrying it re-queues this one. */
  canceled_by: string | null;
  /** The schedule this job is an occurrence of. */
  schedule_id: string | null;
  /** Its finished attempts, oldest first; an unfinished one is left out, as it is uncounted. */
  attempt_history: AttemptRecord[];
}

/** An attempt as `export` carries it: an Attempt without the job id it sits under. */
export type AttemptRecord = Omit<Attempt, "job_id">;

/** What `import` did: with `merge`, ids the store already had are skipped instead of refused. */
export interface ImportResult {
  jobsImported: number;
  jobsSkipped: number;
  schedulesImported: number;
  schedulesSkipped: number;
}

/** Part of a streamed import: jobs, and the settings read since the previous batch. */
export interface ImportBatch {
  jobs: JobRecord[];
  settings?: StoreSettings;
}

/** Everything besides jobs that `export` writes and `import` restores. */
export interface StoreSettings {
  /** Config values by key; they replace the target's values for those keys. */
  config: Record<string, string>;
  /** Queue limits and pause switches; they replace the target's settings for those queues. */
  queues: { name: string; concurrency: number | null; paused: boolean }[];
  /** Schedules with their next occurrence; an id the target already has is refused, naming it. */
  schedules: ScheduleRecord[];
}

/** A named queue with its limits and its jobs counted by state. */
export interface QueueInfo {
  name: string;
  /** Running jobs allowed at once across every worker and host; null = no limit. */
  concurrency: number | null;
  paused: boolean;
  counts: StateCounts;
}

/** A recurring declaration; each occurrence becomes a job of its own. */
export interface ScheduleRecord {
  id: string;
  spec: JobSpec;
  revision: string;
  source: string | null;
  /** The first occurrence not yet handled, or null when the pattern never fires again. */
  next_at: number | null;
  last_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface Store {
  readonly backend: "sqlite" | "postgres";
  /** Where the store lives, for messages (never includes a password). */
  readonly location: string;
  close(): Promise<void>;

  /** All or nothing, in one transaction. A duplicate id throws a UserError naming it. */
  jobInsertMany(params: { jobs: NewJob[]; now: number; onProgress?: (done: number) => void }): Promise<void>;
  /**
   * Like jobInsertMany for input that streams in batches (an NDJSON file) instead of sitting
   * in memory: one transaction, committed after the last batch; a duplicate id, or an error
   * thrown by the batches themselves, stores nothing. Nothing else may write through this
   * store while it runs. Returns how many jobs went in.
   */
  jobInsertStream(params: {
    batches: AsyncIterable<NewJob[]>;
    now: number;
    onProgress?: (done: number) => void;
  }): Promise<number>;
  /** Jobs in insertion order, `limit` at a time; pass `next` back as `after` to continue (null: done). */
  jobExport(params: {
    state?: JobState;
    after: string | null;
    limit: number;
  }): Promise<{ jobs: JobRecord[]; next: string | null }>;
  /**
   * Restores exported jobs with their state and attempt history, and any settings, all or
   * nothing in one transaction. A job or schedule id that already exists throws a UserError
   * naming it; with `merge` it is skipped (and counted), and config values and queue
   * settings the store already has are kept.
   */
  jobImportMany(params: {
    jobs: JobRecord[];
    settings?: StoreSettings;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }): Promise<ImportResult>;
  /** jobImportMany for an export that streams in batches, with the same all-or-nothing rules. */
  jobImportStream(params: {
    batches: AsyncIterable<ImportBatch>;
    merge?: boolean;
    onProgress?: (done: number) => void;
  }): Promise<ImportResult>;
  jobGet(params: { id: string }): Promise<Job | null>;
  /** Insertion order. */
  jobList(params: {
    state?: JobState;
    tag?: string;
    queue?: string;
    limit?: number;
    offset?: number;
  }): Promise<Job[]>;
  jobCounts(): Promise<StateCounts>;
  /**
   * Newest first (or oldest), with how many jobs match in all. Must stay fast on 100k jobs: the page is
   * a LIMIT on the seq order and the count an index scan (see sqlite/job-list.ts).
   */
  jobPage(params: JobPageParams): Promise<{ jobs: Job[]; total: number }>;

  /**
   * Atomically claims the next runnable job (priority, then next_run_at, then insertion
   * order), bumps its attempts and fencing token, sets the lease and records the attempt.
   */
  jobClaim(params: {
    workerId: string;
    host: string;
    now: number;
    leaseMs: number;
    queues?: string[] | null;
  }): Promise<Job | null>;
  /** Renews a lease; false when the token no longer holds it (the job was rescued). */
  jobLeaseExtend(params: { id: string; token: number; leaseUntil: number }): Promise<boolean>;
  /**
   * Renews every lease of `leases` still held, in one statement. A lease missing from the
   * answer was lost (a newer claim owns the job, or it ended).
   */
  jobLeaseRenewMany(params: { leases: HeldLease[]; leaseUntil: number }): Promise<RenewedLease[]>;
  /**
   * Records a kill request on a running job, for its worker to act on at its next renewal.
   * Returns the claim it applies to, or null when the job is not processing.
   */
  jobKillRequest(params: {
    id: string;
    mode: KillMode;
  }): Promise<{ workerId: string | null; token: number } | null>;
  /** Fenced by `token`: false (and no change) when a newer claim owns the job. */
  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean>;
  /**
   * A worker's hot path in one transaction: completes each of `completions` exactly as
   * `jobComplete` would (`completed[i]` is its answer), then claims up to `claim.limit`
   * jobs as `jobClaim` would, each with its own attempt row, token and lease.
   */
  jobCompleteAndClaim(params: CompleteAndClaimParams): Promise<{ completed: boolean[]; claimed: Job[] }>;
  /**
   * Records a failed run as `failed` (claimable at `nextRunAt`), `dead`, or `canceled` (a
   * kill). Fenced by `token`; with `onlyIfLeaseExpiredBefore` it also requires the lease to
   * have lapsed (the rescue path).
   */
  jobFail(params: {
    id: string;
    token: number;
    now: number;
    state: "failed" | "dead" | "canceled";
    nextRunAt: number;
    result: RunResult;
    onlyIfLeaseExpiredBefore?: number;
  }): Promise<boolean>;
  /** Hands a running job back to `pending` without counting the attempt (a forced stop). */
  jobRelease(params: { id: string; token: number; now: number; reason: string }): Promise<boolean>;
  /** Processing jobs whose lease ran out before `now`. */
  jobExpiredLeases(params: { now: number; limit: number }): Promise<Job[]>;
  /**
   * Moves jobs in one of `from` to `to` (pending or canceled); `resetAttempts` starts the
   * count again. With no `id`, every job in `from` moves. Returns the jobs that moved.
   */
  jobTransition(params: {
    id?: string;
    from: readonly JobState[];
    to: "pending" | "canceled";
    resetAttempts: boolean;
    now: number;
    reason?: string;
  }): Promise<Job[]>;
  attemptList(params: { jobId: string }): Promise<Attempt[]>;

  configGetAll(): Promise<Record<string, string>>;
  configSet(params: { key: string; value: string }): Promise<void>;

  workerRegister(params: {
    id: string;
    host: string;
    pid: number;
    now: number;
    queues: string[] | null;
  }): Promise<void>;
  /**
   * Records a heartbeat; returns whether someone asked this worker to stop (e.g. `worker
   * stop --all`). `now` is the worker's clock; PostgreSQL records the server's clock
   * instead (also at register), so that every host judges a heartbeat's age on one clock.
   */
  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }>;
  workerRemove(params: { id: string }): Promise<void>;
  /** The clock heartbeats are judged by: this host's for SQLite, the server's for PostgreSQL. */
  clockNow(): Promise<number>;
  workerList(): Promise<WorkerRecord[]>;
  /** Asks workers to drain: those on `host`, or every host when it is omitted. */
  workerRequestStop(params: { host?: string }): Promise<number>;

  /** Jobs that came from jobfiles, with what was last applied. */
  declaredList(): Promise<DeclaredJob[]>;
  /**
   * Applies a reconciliation in one transaction: re-reads each row and carries out what
   * src/core/reconcile.ts decides for it, so it is safe when two watchers race and a
   * revision the id completed is never queued, whatever happened since the plan.
   */
  jobfileApply(params: { changes: JobfileChanges; now: number }): Promise<JobfileApplyResult>;
  /**
   * What the reconcile rules need to know about each existing id among `ids` (its state,
   * revisions, owner, completed revisions and the dependents it canceled). Ids that do not
   * exist are left out.
   */
  jobDeclarations(params: { ids: string[] }): Promise<JobDeclaration[]>;

  /**
   * A value that changes whenever another connection commits. Idle workers compare it to
   * wake within milliseconds instead of waiting a full poll interval.
   */
  changeMarker(): Promise<string>;

  /**
   * Resolves when another process may have queued work (a commit on SQLite, a NOTIFY on
   * PostgreSQL) or after `timeoutMs`, whichever comes first. Never rejects on timeout.
   */
  waitForChange(params: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;

  /** The dashboard's job list and search; must stay fast on 100k jobs (index on state, seq). */
  jobSearch(params: JobSearchParams): Promise<Job[]>;
  /** For the dashboard's job detail: what the job waits for, and what waits for it. */
  jobDependencyLinks(params: { id: string; limit: number }): Promise<JobDependencyLinks>;
  /** Finished attempts per `bucketMs` since `since`, oldest first; empty buckets are omitted. */
  attemptThroughput(params: { since: number; bucketMs: number }): Promise<ThroughputBucket[]>;
  /** Counters and histograms for `/metrics`; `now` decides which pending jobs are due. */
  metricsSnapshot(params: {
    now: number;
    durationBoundsMs: number[];
    waitBoundsMs: number[];
  }): Promise<MetricsSnapshot>;

  /** Creates or changes a named queue's limit or pause switch; omitted fields stay as they are. */
  queueSet(params: { name: string; concurrency?: number | null; paused?: boolean }): Promise<void>;
  /** Every queue that has jobs or settings. */
  queueList(): Promise<QueueInfo[]>;
  /** Sets (or with null clears) a queue's default resource limits, creating the queue if needed. */
  queueLimitsSet(params: { name: string; limits: ResourceLimits | null }): Promise<void>;
  /** The default limits of every queue that has some, by queue name. */
  queueLimitsList(): Promise<Record<string, ResourceLimits>>;
  /** Notes on a running attempt which limits applied and how (`show` prints it). */
  attemptLimitsSet(params: { jobId: string; token: number; limits: string }): Promise<void>;
  /**
   * Deletes finished jobs (with their attempts) in `states` that finished before
   * `finishedBefore`. Never touches pending or running jobs, nor jobs a jobfile still
   * declares (their row is what keeps a re-sync from running them again).
   */
  jobPurge(params: {
    states: JobState[];
    finishedBefore: number;
    dryRun: boolean;
    /** At most this many jobs, oldest first, so a worker's purge never holds the write lock long. Default: all. */
    limit?: number;
  }): Promise<string[]>;

  /** Creates or replaces a schedule. A changed revision recomputes `nextAt`. */
  scheduleUpsert(params: {
    id: string;
    spec: JobSpec;
    revision: string;
    source: string | null;
    nextAt: number | null;
    now: number;
  }): Promise<"created" | "updated" | "unchanged">;
  scheduleGet(params: { id: string }): Promise<ScheduleRecord | null>;
  scheduleList(): Promise<ScheduleRecord[]>;
  /** Stops future occurrences; occurrences already queued stay. */
  scheduleRemove(params: { id: string }): Promise<boolean>;
  scheduleDue(params: { now: number }): Promise<ScheduleRecord[]>;
  /**
   * Records that a schedule fired: moves `next_at` from `expectedNextAt` (compare-and-set, so
   * two tickers never both fire), then enqueues, skips and cancels occurrences as
   * `decideOccurrences` (core/schedule-tick.ts) decides from `occurrences` (owed now, oldest
   * first) and the schedule's unfinished occurrences, in the same transaction.
   */
  scheduleFire(params: {
    id: string;
    expectedNextAt: number;
    nextAt: number | null;
    occurrences: NewJob[];
    overlap: "allow" | "skip" | "replace";
    now: number;
  }): Promise<{ enqueued: string[]; skipped: string[]; replaced: string[] }>;

  /** Replaces the folder's last-sync record. */
  folderSyncRecord(params: FolderSyncRun): Promise<void>;
  /** Every folder with a sync record or a watcher, by path, with its watchers. */
  folderList(): Promise<JobfileFolder[]>;
  /**
   * Registers this process as the folder's watcher on `host`: true when there was none, or
   * when the row still names `replacePid` (one the caller found dead). False means another
   * watcher holds it. The rule of who may replace whom is the caller's.
   */
  folderWatcherClaim(params: {
    folder: string;
    host: string;
    pid: number;
    now: number;
    replacePid: number | null;
  }): Promise<boolean>;
  /** Refreshes the heartbeat; `error` (a message, or null to keep the last one) is recorded with `now`. */
  folderWatcherBeat(params: {
    folder: string;
    host: string;
    pid: number;
    now: number;
    error?: string | null;
  }): Promise<void>;
  folderWatcherRemove(params: { folder: string; host: string; pid: number }): Promise<void>;
}
