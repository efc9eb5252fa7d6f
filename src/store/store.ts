/**
 * The Store: every read and write of queue state. Async from day one so SQLite and
 * PostgreSQL share one interface; methods are noun-first and take one params object.
 * Everything above this folder talks to a Store and never to SQL.
 */

import type { Attempt, Job, JobState, StateCounts } from "../core/job.ts";
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
}

export interface JobfileChanges {
  creates: NewJob[];
  /** New revisions of existing ids; how each applies depends on the job's state at apply time. */
  updates: NewJob[];
  /** Ids whose declaring file is gone: not-yet-started jobs are canceled, history stays. */
  removals: string[];
}

export interface JobDeclaration {
  id: string;
  source: string | null;
  nextRevision: string | null;
}

export interface JobfileApplyResult {
  created: string[];
  /** Spec replaced in place (the job had not started) or re-queued (it had finished). */
  updated: string[];
  /** Queued to run after the running attempt finishes. */
  deferred: string[];
  /** The id already completed exactly this revision; nothing was queued. */
  alreadyCompleted: string[];
  canceled: string[];
}

/** A page of jobs for the dashboard, newest first. Conditions that are absent do not filter. */
export interface JobSearchParams {
  /** A case-insensitive substring of the id. */
  idContains?: string;
  state?: JobState;
  tag?: string;
  limit: number;
  offset: number;
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

/**
 * Aggregates for `/metrics`, derived from the attempts table so they only grow while
 * history is kept: each finished attempt either completed its job, scheduled a retry
 * (the job became `failed`) or used the last retry (the job became `dead`).
 */
export interface MetricsSnapshot {
  completed: number;
  failed: number;
  dead: number;
  /** Attempts started after the first one of a run (attempt number > 1). */
  retries: number;
  /** finished_at − started_at of every finished attempt. */
  duration: HistogramCounts;
  /** From enqueue (or the job's run_at/delay) to the start of its first-ever attempt. */
  wait: HistogramCounts;
  /** The oldest next_run_at among pending jobs that are due and not blocked by dependencies, or null. */
  oldestPendingSince: number | null;
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
  /** Jobs in insertion order, `limit` at a time; pass `next` back as `after` to continue (null: done). */
  jobExport(params: {
    state?: JobState;
    after: string | null;
    limit: number;
  }): Promise<{ jobs: JobRecord[]; next: string | null }>;
  /**
   * Restores exported jobs with their state, and any settings, all or nothing in one
   * transaction. A job or schedule id that already exists throws a UserError naming it.
   */
  jobImportMany(params: {
    jobs: JobRecord[];
    settings?: StoreSettings;
    onProgress?: (done: number) => void;
  }): Promise<void>;
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
  /** Fenced by `token`: false (and no change) when a newer claim owns the job. */
  jobComplete(params: { id: string; token: number; now: number; result: RunResult }): Promise<boolean>;
  /**
   * Records a failed run as `failed` (claimable at `nextRunAt`) or `dead`. Fenced by
   * `token`; with `onlyIfLeaseExpiredBefore` it also requires the lease to have lapsed
   * (the rescue path).
   */
  jobFail(params: {
    id: string;
    token: number;
    now: number;
    state: "failed" | "dead";
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
  /** Records a heartbeat; returns whether someone asked this worker to stop (e.g. `worker stop --all`). */
  workerHeartbeat(params: { id: string; now: number }): Promise<{ stopRequested: boolean }>;
  workerRemove(params: { id: string }): Promise<void>;
  workerList(): Promise<WorkerRecord[]>;
  /** Asks workers to drain: those on `host`, or every host when it is omitted. */
  workerRequestStop(params: { host?: string }): Promise<number>;

  /** Jobs that came from jobfiles, with what was last applied. */
  declaredList(): Promise<DeclaredJob[]>;
  /** Applies a reconciliation plan in one transaction; safe when two watchers race. */
  jobfileApply(params: { changes: JobfileChanges; now: number }): Promise<JobfileApplyResult>;
  /**
   * How each existing id among `ids` is declared: `source` null means an ad hoc job (which a
   * jobfile must never take over), and `nextRevision` is a jobfile revision waiting for the
   * running attempt to end. Ids that do not exist are left out.
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
  /**
   * Deletes finished jobs (with their attempts) in `states` that finished before
   * `finishedBefore`. Never touches pending or running jobs, nor jobs a jobfile still
   * declares (their row is what keeps a re-sync from running them again).
   */
  jobPurge(params: { states: JobState[]; finishedBefore: number; dryRun: boolean }): Promise<string[]>;

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
   * two tickers never both fire) and enqueues `occurrences`, applying the overlap policy
   * against occurrences still pending or running.
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
