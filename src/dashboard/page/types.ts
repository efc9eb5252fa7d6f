/**
 * The API's JSON shapes, taken from the very functions the server uses to build them, so
 * the page cannot drift from the CLI's `--json` output without the type check noticing.
 */

import type { StateCounts } from "../../core/job.ts";
import type { FolderJson } from "../../render/folders.ts";
import type { attemptJson, jobJson, scheduleJson, workerJson } from "../../render.ts";
import type { QueueInfo } from "../../store/store.ts";

export type JobJson = ReturnType<typeof jobJson>;
export type ScheduleJson = ReturnType<typeof scheduleJson>;
/** `queue list --json`. */
export type QueueJson = QueueInfo;
export type AttemptJson = ReturnType<typeof attemptJson>;
export type WorkerJson = ReturnType<typeof workerJson>;
export type { StateCounts };

export interface StatusJson {
  jobs: StateCounts;
  workers: WorkerJson[];
  config: Record<string, unknown>;
}

/** `show --json`: the job with its spec, where `attempts` is the list of runs rather than their count. */
export interface JobDetailJson extends Omit<JobJson, "attempts"> {
  spec: Record<string, unknown>;
  attempt_count: number;
  attempts: AttemptJson[];
  /** What the job wrote to $QUEUECTL_RESULT, or null. */
  result: unknown;
}

export interface JobLogJson {
  id: string;
  attempts: {
    attempt: number;
    token: number;
    host: string;
    /** The attempt has not ended. */
    running: boolean;
    /** output_tail was read from this host's log files as the job runs. */
    live: boolean;
    output_tail: string | null;
  }[];
}

export interface JobLinkJson {
  id: string;
  state: string | null;
}

export interface DependenciesJson {
  id: string;
  upstream: JobLinkJson[];
  downstream: JobLinkJson[];
  downstream_total: number;
}

export interface ThroughputJson {
  bucket_seconds: number;
  buckets: { start: string; completed: number; failed: number }[];
}

export interface SyncJson {
  folders: FolderJson[];
  sources: {
    source: string;
    counts: StateCounts;
    undeclared: number;
    jobs: { id: string; state: string; declared: boolean }[];
  }[];
}
