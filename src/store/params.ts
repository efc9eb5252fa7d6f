/**
 * The params object each Store method takes, and the shapes of answers that are not records.
 * Declared once here: the Store interface and both backends' functions use these names, so a
 * field added to one operation cannot drift between them. store.ts re-exports them.
 */

import type { Job, JobState } from "../core/job.ts";
import type { NotifyTarget } from "../core/notify.ts";
import type { ResourceLimits } from "../core/resource-limits.ts";
import type { JobSpec } from "../core/spec.ts";
import type {
  HeldLease,
  ImportBatch,
  JobfileChanges,
  JobRecord,
  KillMode,
  NewJob,
  NewJobRow,
  RunResult,
  StoreSettings,
} from "./records.ts";

/** Called with how many jobs went in so far; bulk writes report every few thousand. */
export type ProgressReport = (done: number) => void;

/** Operations that name one row by its id. */
export interface ById {
  id: string;
}

export interface JobInsertParams {
  jobs: NewJob[];
  now: number;
  onProgress?: ProgressReport;
}

/** Bytes of streamed input, when known: SQLite writes a small input through a rollback journal. */
interface StreamInputSize {
  inputBytes?: number;
}

export interface JobInsertStreamParams extends StreamInputSize {
  batches: AsyncIterable<NewJobRow[]>;
  now: number;
  onProgress?: ProgressReport;
}

export interface JobExportParams {
  state?: JobState;
  /** The `next` of the previous page, or null for the first. */
  after: string | null;
  limit: number;
}

export interface JobExportPage {
  jobs: JobRecord[];
  /** Pass back as `after` to continue; null when this was the last page. */
  next: string | null;
}

export interface JobImportParams {
  jobs: JobRecord[];
  settings?: StoreSettings;
  /** Skip ids the store already has instead of refusing them. Default false. */
  merge?: boolean;
  onProgress?: ProgressReport;
  /** When a waiting job whose dependency already ended is canceled. Default: the clock at the call. */
  now?: number;
}

export interface JobImportStreamParams extends StreamInputSize {
  batches: AsyncIterable<ImportBatch>;
  /** As in JobImportParams. Default false. */
  merge?: boolean;
  onProgress?: ProgressReport;
  /** As in JobImportParams. Default: the clock at the call. */
  now?: number;
}

/** `jobList`'s filters: absent ones do not filter; no limit means every job. */
export interface JobListParams {
  state?: JobState;
  tag?: string;
  queue?: string;
  limit?: number;
  /** Default 0. */
  offset?: number;
}

/** A page of jobs for the dashboard, newest first. Absent conditions do not filter; tags match any. */
export interface JobSearchParams {
  /** A case-insensitive substring of the id. */
  idContains?: string;
  state?: JobState;
  tag?: string | string[];
  limit: number;
  offset: number;
}

/** `list`'s filters: absent conditions do not filter; several states, tags or queues match any of them. */
export interface JobPageParams {
  states?: JobState[];
  tag?: string | string[];
  queue?: string | string[];
  /** At most this many jobs; null for all. */
  limit: number | null;
  /** Newest first (default), or insertion order, which `list --json` has always used. */
  order?: "newest" | "oldest";
}

export interface JobPage {
  jobs: Job[];
  /** How many jobs match in all, beyond the page. */
  total: number;
}

export interface JobClaimParams {
  workerId: string;
  host: string;
  now: number;
  leaseMs: number;
  /** Only these queues; null or absent for all. */
  queues?: string[] | null;
}

/** A run that ended well, for jobCompleteAndClaim. */
export interface CompletedRun {
  id: string;
  token: number;
  result: RunResult;
}

export interface CompleteAndClaimParams {
  completions: CompletedRun[];
  /** What to claim after completing: up to `limit` jobs as jobClaim would; null claims nothing. */
  claim: (Omit<JobClaimParams, "now"> & { limit: number }) | null;
  now: number;
}

export interface CompleteAndClaimResult {
  /** `completed[i]` is what jobComplete would have answered for `completions[i]`. */
  completed: boolean[];
  claimed: Job[];
}

export interface LeaseExtendParams {
  id: string;
  token: number;
  leaseUntil: number;
}

export interface LeaseRenewParams {
  leases: HeldLease[];
  leaseUntil: number;
}

export interface KillRequestParams {
  id: string;
  mode: KillMode;
}

/** The claim a kill request applies to. */
export interface KillTarget {
  workerId: string | null;
  token: number;
}

/** A write to one attempt: it lands only while the job still holds this token. */
export interface FencedWrite {
  id: string;
  token: number;
  now: number;
}

export interface JobCompleteParams extends FencedWrite {
  result: RunResult;
}

export interface JobFailParams extends FencedWrite {
  state: "failed" | "dead" | "canceled";
  nextRunAt: number;
  result: RunResult;
  /** Also require the lease to have lapsed before this time (the rescue path). Default: no such check. */
  onlyIfLeaseExpiredBefore?: number;
  /** Refused (null) while a plain kill (not `--retry`) is asked for that the worker has not read. Default false. */
  unlessPlainKill?: boolean;
}

/** Refused (false) while a kill is asked for: the kill decides how the run ends, not the hand-back. */
export interface JobReleaseParams extends FencedWrite {
  reason: string;
  /** The run never started: no attempt is left and it keeps its place in line. Default false. */
  unstarted?: boolean;
}

export interface ExpiredLeasesParams {
  now: number;
  limit: number;
}

export interface JobTransitionParams {
  /** One job; absent for every job in `from`. */
  id?: string;
  from: readonly JobState[];
  to: "pending" | "canceled";
  resetAttempts: boolean;
  now: number;
  /** Recorded as the last error of a job moved to `canceled`. Default: the last error stays. */
  reason?: string;
}

export interface AttemptListParams {
  jobId: string;
}

export interface ConfigSetParams {
  key: string;
  value: string;
}

export interface WorkerRegisterParams {
  id: string;
  host: string;
  pid: number;
  now: number;
  /** The queues it serves, or null for all. */
  queues: string[] | null;
}

export interface WorkerHeartbeatParams {
  id: string;
  now: number;
  /** What it registered with: a row another host removed (judged lost) is written again. Default: none. */
  registration?: Pick<WorkerRegisterParams, "host" | "pid" | "queues">;
}

export interface WorkerHeartbeatResult {
  /** Someone asked this worker to stop (e.g. `worker stop --all`). */
  stopRequested: boolean;
}

export interface WorkerStopParams {
  /** Only the workers on this host. Default: every host. */
  host?: string;
}

export interface JobfileApplyParams {
  changes: JobfileChanges;
  now: number;
}

export interface JobDeclarationsParams {
  ids: string[];
  /** Also every job a jobfile declared, in queue order (a whole-folder sync). Default false. */
  everyDeclared?: boolean;
}

export interface WaitForChangeParams {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * A changeMarker() read before the caller last looked for work: a commit since then ends the
   * wait at once, so one between the look and the wait is not slept through. Default: at the wait.
   */
  since?: string;
}

export interface DependencyLinksParams {
  id: string;
  /** At most this many dependents. */
  limit: number;
}

export interface ThroughputParams {
  since: number;
  bucketMs: number;
}

export interface MetricsParams {
  now: number;
  durationBoundsMs: number[];
  waitBoundsMs: number[];
}

export interface QueueSetParams {
  name: string;
  /** Omitted: stays as it is; null: no limit. */
  concurrency?: number | null;
  /** Omitted: stays as it is. */
  paused?: boolean;
}

export interface JobPurgeParams {
  states: JobState[];
  finishedBefore: number;
  dryRun: boolean;
  /** At most this many jobs, oldest first, so a worker's purge never holds the write lock long. Default: all. */
  limit?: number;
  /** Called in the purge's transaction, before the delete, with the jobs to go; a throw keeps them all. */
  archive?: (records: JobRecord[]) => void;
}

/** One progress report of a running attempt (see worker/job-reports.ts). */
export interface ProgressUpdate {
  id: string;
  token: number;
  /** 0–100, or null with a message alone. */
  pct: number | null;
  message: string | null;
}

export interface JobProgressSaveParams {
  updates: ProgressUpdate[];
  /** Skip rows another transaction locks (PostgreSQL) rather than wait; the periodic save does. Default false. */
  skipLocked?: boolean;
}

export interface JobResultSaveParams {
  id: string;
  token: number;
  /** JSON text, or null when the attempt left none. */
  result: string | null;
}

export interface JobResultsParams {
  ids: string[];
}

export interface ScheduleUpsertParams {
  id: string;
  spec: JobSpec;
  revision: string;
  source: string | null;
  nextAt: number | null;
  now: number;
}

export type ScheduleUpsertOutcome = "created" | "updated" | "unchanged";

export type ScheduleDueParams = { now: number };

export interface ScheduleFireParams {
  id: string;
  expectedNextAt: number;
  nextAt: number | null;
  occurrences: NewJob[];
  overlap: "allow" | "skip" | "replace";
  now: number;
}

export interface ScheduleFireResult {
  enqueued: string[];
  skipped: string[];
  replaced: string[];
}

/** A watcher process of a folder: one per folder and host. */
export interface FolderWatcherParams {
  folder: string;
  host: string;
  pid: number;
}

export interface FolderWatcherClaimParams extends FolderWatcherParams {
  now: number;
  /** A watcher pid the caller found dead, which this one may replace; null for none. */
  replacePid: number | null;
}

export interface FolderWatcherBeatParams extends FolderWatcherParams {
  now: number;
  /** A message to record with `now`; null or absent keeps the last one. */
  error?: string | null;
}

// The outbox's params live with its records.
export type {
  WebhookDeliveryClaimParams,
  WebhookDeliveryListParams,
  WebhookDeliveryRecordParams,
} from "./webhook-records.ts";

export interface QueueNotifySetParams {
  name: string;
  /** null or [] clears the queue's receivers. */
  notify: NotifyTarget[] | null;
}

export interface QueueLimitsSetParams {
  name: string;
  /** null clears the queue's limits. */
  limits: ResourceLimits | null;
}

export interface AttemptLimitsSetParams {
  jobId: string;
  token: number;
  /** What limited the attempt and how, as `show` prints it. */
  limits: string;
}
