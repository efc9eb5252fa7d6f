/**
 * The API's JSON shapes, taken from the very functions the server uses to build them, so
 * the page cannot drift from the CLI's `--json` output without the type check noticing.
 */

import type { StateCounts } from "../../core/job.ts";
import type { FolderJson } from "../../jobfiles/folder-report.ts";
import type { attemptJson, jobJson, workerJson } from "../../render.ts";

export type JobJson = ReturnType<typeof jobJson>;
export type AttemptJson = ReturnType<typeof attemptJson>;
export type WorkerJson = ReturnType<typeof workerJson>;
export type { StateCounts };

export interface StatusJson {
  jobs: StateCounts;
  workers: WorkerJson[];
  config: Record<string, number | string>;
}

/** `show --json`: the job with its spec, where `attempts` is the list of runs rather than their count. */
export interface JobDetailJson extends Omit<JobJson, "attempts"> {
  spec: Record<string, unknown>;
  attempt_count: number;
  attempts: AttemptJson[];
}

export interface JobLogJson {
  id: string;
  attempts: { attempt: number; token: number; host: string; output_tail: string | null }[];
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
