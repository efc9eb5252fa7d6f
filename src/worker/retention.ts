/**
 * Purging finished jobs together with their output files, for `queuectl purge` and for
 * workers applying the `retention` setting. Files are found by the id's hash, the same
 * stem the worker wrote them under, so no raw id ever becomes a path here either.
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { QueueConfig } from "../core/config.ts";
import type { JobState } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { appendToArchive } from "./archive.ts";
import { attemptLogBase } from "./log-files.ts";
import { PeriodicService } from "./service.ts";

/** Workers run the retention purge at most this often. */
export const RETENTION_EVERY_MS = 60_000;
/** Jobs per purge transaction: short enough that renewals and claims get the lock between them. */
const RETENTION_BATCH = 500;
/** Between two batches, so other writers of this process and others get their turn. */
const RETENTION_PAUSE_MS = 20;

export async function purgeFinishedJobs(
  store: Store,
  params: {
    states: JobState[];
    finishedBefore: number;
    dryRun: boolean;
    home: string;
    limit?: number;
    /** A file each job is appended to (archive.ts) before it is deleted; null (default): none. */
    archive?: string | null;
  },
): Promise<string[]> {
  const { archive, ...purge } = params;
  const ids = await store.jobPurge({
    ...purge,
    ...(archive ? { archive: (records) => appendToArchive(archive, records) } : {}),
  });
  if (params.dryRun || ids.length === 0) return ids;
  const logDir = join(params.home, "logs");
  let files: string[];
  try {
    files = readdirSync(logDir);
  } catch {
    return ids;
  }
  // attemptLogBase(id, token) is "logs/<digest>-<token>": every file of the id shares "<digest>-".
  const stems = new Set(ids.map((id) => attemptLogBase(id, 0).slice("logs/".length, -1)));
  for (const file of files) {
    const stem = file.slice(0, file.lastIndexOf("-") + 1);
    if (stems.has(stem)) rmSync(join(logDir, file), { force: true });
  }
  return ids;
}

/** A worker's purge of jobs older than `retention`, in bounded batches; a no-op while it is off. */
export function retentionService(params: {
  store: Store;
  /** QUEUECTL_HOME of this worker, where the job logs it may delete are. */
  home: string;
  now: () => number;
  config: () => QueueConfig;
  onError: (error: unknown) => void;
}): PeriodicService {
  return new PeriodicService({
    intervalMs: () => RETENTION_EVERY_MS,
    onError: params.onError,
    async tick() {
      const { retentionMs, retentionArchive } = params.config();
      if (retentionMs === null) return;
      const finishedBefore = params.now() - retentionMs;
      for (;;) {
        const ids = await purgeFinishedJobs(params.store, {
          states: ["completed", "dead", "canceled"],
          finishedBefore,
          dryRun: false,
          home: params.home,
          limit: RETENTION_BATCH,
          archive: retentionArchive,
        });
        if (ids.length < RETENTION_BATCH) return;
        await Bun.sleep(RETENTION_PAUSE_MS);
      }
    },
  });
}
