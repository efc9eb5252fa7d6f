/**
 * What the store keeps and hands back: jobs to insert, run results, leases, workers, jobfile
 * declarations, queues, schedules, dashboard aggregates and exported jobs. Both backends
 * return exactly these shapes (rows.ts maps their rows); store.ts re-exports them.
 */

import type { MissingDependency } from "../core/import-waits.ts";
import type { Attempt, Job, JobState, StateCounts } from "../core/job.ts";
import type { NotifyTarget } from "../core/notify.ts";
import type { CompletedRevision, JobFacts, JobfileAction } from "../core/reconcile.ts";
import type { ResourceLimits } from "../core/resource-limits.ts";
import type { JobSpec } from "../core/spec.ts";

export interface NewJob {
  spec: JobSpec;
  revision: string;
  /** Resolved at enqueue from the spec or the `max-retries` config. */
  maxRetries: number;
  nextRunAt: number;
  source: string | null;
}

/**
 * A new job as both stores write its row: the spec's JSON and the columns derived from it,
 * worked out once per job by newJobRow (columns.ts), on whichever thread prepared it.
 */
export interface NewJobRow {
  id: string;
  /** The spec as JSON.stringify writes it. */
  specText: string;
  revision: string;
  maxRetries: number;
  priority: number;
  queue: string;
  /** The spec's tags as a JSON list. */
  tagsText: string;
  nextRunAt: number;
  source: string | null;
  /** The spec's `after`, linked once every row of the input exists. */
  after: readonly string[] | undefined;
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
  /**
   * When the command started (epoch ms, on the store's clock). A job claimed ahead of a free
   * slot starts up to 250 ms after its claim; without this the claim's time stands.
   */
  startedAt?: number | null;
  /**
   * When the command ended (epoch ms, on the store's clock). The write may come much later (a
   * locked store, a round shared with others); without this the write's time stands.
   */
  finishedAt?: number | null;
  /** A remark that does not fail the run (a result not stored); kept as the attempt's error when it has none. */
  note?: string | null;
}

/** A lease a worker holds: the job and the fencing token of its claim. */
export interface HeldLease {
  id: string;
  token: number;
}

/** What `kill` asked for: end the job `canceled`, or count the attempt as failed (`retry`). */
export type KillMode = NonNullable<Job["kill_requested"]>;

/**
 * What jobFail wrote, which is not always what it was asked for: a `failed` run of a job
 * whose jobfile was removed while it ran ends `canceled`, and a job whose jobfile changed
 * while it ran starts over as the new revision (`pending`). Workers report this, not their
 * own decision, so that what they print matches the store.
 */
export interface JobFailResult {
  state: "failed" | "dead" | "canceled" | PromotedRevision;
  /**
   * Why `state` is not the one asked for; null when it is. `jobfile-completed`: the jobfile
   * went back to a revision the job had completed, which it shows again.
   */
  because: "jobfile-removed" | "jobfile-changed" | "jobfile-completed" | null;
  /** When a `failed` job may run again, or when a `pending` one may start; null otherwise. */
  nextRunAt: number | null;
}

/** What took a job's row once its run ended, when its jobfile changed meanwhile (see promoteNextRevision). */
export type PromotedRevision = "pending" | "completed";

/** A failed attempt's result once the revision deferred behind it took the row. */
export function promotedResult(promoted: PromotedRevision, now: number): JobFailResult {
  return promoted === "completed"
    ? { state: "completed", because: "jobfile-completed", nextRunAt: null }
    : { state: "pending", because: "jobfile-changed", nextRunAt: now };
}

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
  /** Jobs canceled because a job they wait for was canceled with its jobfile. */
  canceledDependents: string[];
};

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
  /** The job's last progress and result (Job has them too); archives carry them, `export` leaves them out. */
  progress_pct?: number | null;
  progress_message?: string | null;
  result?: string | null;
}

/**
 * When an imported job completed `revision`: the end of its last attempt of that revision
 * that exited 0, or null when no such attempt came with it. Exports carry the revisions
 * without their dates, and `sync` shows the date of a completed revision it will not re-run.
 */
export function completedAt(job: JobRecord, revision: string): number | null {
  let at: number | null = null;
  for (const attempt of job.attempt_history) {
    if (attempt.revision !== revision || attempt.exit_code !== 0 || attempt.finished_at === null) continue;
    if (at === null || attempt.finished_at > at) at = attempt.finished_at;
  }
  return at;
}

/** A job's stored result: JSON text, or null when its last finished attempt left none. */
export interface JobResult {
  id: string;
  result: string | null;
}

/** An attempt as `export` carries it: an Attempt without the job id it sits under. */
export type AttemptRecord = Omit<Attempt, "job_id">;

/** What `import` did: with `merge`, ids the store already had are skipped instead of refused. */
export interface ImportResult {
  jobsImported: number;
  /** Jobs skipped (`merge`) because the store has their id, occurrence ids included. */
  jobsSkipped: number;
  /** Of those, the jobs whose id is an occurrence of one of the store's schedules. */
  jobsSkippedAsOccurrences: number;
  schedulesImported: number;
  schedulesSkipped: number;
  /** Queues whose settings were written, and config keys: none with `merge`, which keeps the target's. */
  queuesImported: number;
  configImported: number;
  /** Imported jobs that wait for an id the store lacks, which counts as done (core/import-waits.ts). */
  missingDependencies: MissingDependency[];
  /**
   * Imported jobs that were waiting on a dependency that had already ended dead or canceled,
   * with what they wait for: canceled at once, as such a job enqueued is, not left waiting forever.
   */
  canceledAtOnce: [id: string, after: string[]][];
}

/** Part of a streamed import: jobs, and the settings read since the previous batch. */
export interface ImportBatch {
  jobs: JobRecord[];
  settings?: StoreSettings;
}

/** Everything besides jobs that `export` writes and `import` restores. */
export interface StoreSettings {
  /**
   * Config values by key; they replace the target's values for those keys. With `merge` none
   * is written: a key the target never set still has its default, which is its config too.
   */
  config: Record<string, string>;
  /** Queue limits and pause switches; they replace the target's settings for those queues (with `merge`, none is written). */
  queues: {
    name: string;
    concurrency: number | null;
    paused: boolean;
    /** The queue's webhooks and resource limits, when the export had them (absent: left as they are). */
    notify?: NotifyTarget[];
    limits?: ResourceLimits | null;
  }[];
  /** Schedules with their next occurrence; an id the target already has is refused, naming it. */
  schedules: ScheduleRecord[];
  /**
   * What the store remembers of purged jobfile jobs, which no job line carries: without it a
   * sync on the new store would run a revision the old one had completed. Added to what the
   * target remembers, never refused; absent: none.
   */
  purged?: PurgedRevisions[];
}

/** The completed revisions of an id that has no job row: a jobfile job since purged. */
export interface PurgedRevisions {
  id: string;
  revisions: CompletedRevision[];
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

/** Where an idle worker asks when its next job falls due (Store.jobNextDueAt). */
export interface JobNextDueParams {
  /** Only these queues; null for every queue. */
  queues: string[] | null;
  /** Only jobs due after this instant (ms): a job due already but not claimed waits on something else. */
  after: number;
}
