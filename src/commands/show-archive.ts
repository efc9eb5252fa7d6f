/**
 * `show --archive FILE ID`: a job from a purge's archive (or any export), read line by line
 * so a large archive is never held in memory. The last line of the id wins: a job purged,
 * imported back and purged again was appended twice.
 */

import { UserError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { inputChunks, textLines } from "../core/text-lines.ts";
import {
  attemptJson,
  attemptLines,
  colors,
  jobBlocks,
  jobJson,
  printJson,
  safeText,
  specLines,
} from "../render.ts";
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

export async function showArchived(path: string, id: string, json: boolean): Promise<void> {
  const record = await findArchived(path, id);
  if (!record) {
    throw new UserError(
      `no job "${id}" in the archive ${path}`,
      'check the id, or list the archive\'s ids with `grep -o \'"id":"[^"]*"\' FILE`',
    );
  }
  const job = asJob(record);
  const attempts = record.attempt_history.map((attempt) => ({ ...attempt, job_id: record.id }));
  if (json) {
    printJson({
      ...jobJson(job),
      spec: job.spec,
      attempt_count: job.attempts,
      attempts: attempts.map(attemptJson),
      result: job.result ? JSON.parse(job.result) : null,
      archived: true,
    });
    return;
  }
  const block = jobBlocks([job], Date.now()).replace(/^Found 1 job\(s\):\n\n/, "");
  process.stdout.write(
    `${colors.dim(`(archived in ${safeText(path)})`)}\n${block.trimEnd()}\n${specLines(job)}\n`,
  );
  if (job.result) process.stdout.write(`${colors.bold("Result:")} ${safeText(job.result)}\n`);
  process.stdout.write(`${colors.bold("Attempts:")}\n${attemptLines(attempts)}`);
}
