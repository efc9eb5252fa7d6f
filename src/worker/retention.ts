/**
 * Purging finished jobs together with their output files, for `queuectl purge` and for
 * workers applying the `retention` setting. Files are found by the id's hash, the same
 * stem the worker wrote them under, so no raw id ever becomes a path here either.
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { JobState } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { attemptLogBase } from "./log-files.ts";

/** Workers run the retention purge at most this often. */
export const RETENTION_EVERY_MS = 60_000;

export async function purgeFinishedJobs(
  store: Store,
  params: { states: JobState[]; finishedBefore: number; dryRun: boolean; home: string },
): Promise<string[]> {
  const ids = await store.jobPurge(params);
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
