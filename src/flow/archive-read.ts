/**
 * A job from a purge's archive (or any export), read line by line so a large archive is never
 * held in memory. The last line of the id wins: a job purged, imported back and purged again
 * was appended twice.
 */

import type { Attempt, Job } from "../core/job.ts";
import { inputChunks, textLines } from "../core/text-lines.ts";
import type { JobRecord } from "../store/store.ts";
import { emptySettings, parseExportLine } from "./export-format.ts";

async function findArchived(path: string, id: string): Promise<JobRecord | null> {
  let found: JobRecord | null = null;
  const hint = "give the file `purge --archive` or `export` wrote";
  for await (const block of textLines(inputChunks(path, hint), path)) {
    for (const [index, raw] of block.lines.entries()) {
      const line = raw.trim();
      // Only lines that may hold the id are parsed, and parsed in full (a bad line is named).
      if (line === "" || !line.includes(JSON.stringify(id).slice(1, -1))) continue;
      const job = parseExportLine(line, `${path}:${block.first + index}`, emptySettings());
      if (job?.id === id) found = job;
    }
  }
  return found;
}

/** The archived job as the renderers take a Job; it is no longer in any queue. */
function asJob(record: JobRecord): Job {
  return {
    ...record,
    priority: record.spec.priority ?? 0,
    queue: record.spec.queue ?? "default",
    tags: record.spec.tags ?? [],
    worker_id: null,
    lease_until: null,
    token: record.attempt_history.reduce((max, attempt) => Math.max(max, attempt.token), 0),
  };
}

/** The archived job and its attempts as the renderers take them, or null when the id is not there. */
export async function readArchivedJob(
  path: string,
  id: string,
): Promise<{ job: Job; attempts: Attempt[] } | null> {
  const record = await findArchived(path, id);
  if (!record) return null;
  const attempts = record.attempt_history.map((attempt) => ({ ...attempt, job_id: record.id }));
  return { job: asJob(record), attempts };
}
