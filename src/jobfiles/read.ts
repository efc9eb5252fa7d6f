/**
 * From a jobfile's bytes to the jobs it declares: the size cap, UTF-8, parsing, and the
 * fields the queue derives (revision, retries, first run). `queuectl sync` and the watcher
 * both go through here, so a file means the same to both.
 */

import { firstRunAt, specRevision } from "../core/spec.ts";
import type { DesiredJob } from "./desired.ts";
import { type FolderNaming, NO_NAMESPACE, namespaced } from "./folder-settings.ts";
import { MAX_JOBFILE_BYTES, type ParsedJobfile, parseJobfile } from "./parse.ts";
import { fileProblem } from "./problem.ts";

function unreadable(rel: string, message: string, hint: string): ParsedJobfile {
  return { jobs: [], knownIds: [], problems: [fileProblem(rel, message, hint)] };
}

export function tooLarge(rel: string): ParsedJobfile {
  return unreadable(rel, `is larger than ${MAX_JOBFILE_BYTES / 1024} KiB`, "split it into smaller jobfiles");
}

export function readError(rel: string, code: string | undefined): ParsedJobfile {
  return unreadable(rel, `cannot be read (${code ?? "error"})`, "fix its permissions");
}

export function parseJobfileBytes(bytes: Uint8Array, rel: string): ParsedJobfile {
  if (bytes.length > MAX_JOBFILE_BYTES) return tooLarge(rel);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return unreadable(rel, "is not UTF-8 text", "save it as UTF-8");
  }
  return parseJobfile(text, rel);
}

/**
 * The valid jobs of a parsed file, as the plan wants them; `source` is what the store records.
 * Ids, and the `after` entries that name the folder's own jobs, take the folder's namespace.
 * `knownRevisions` are the revisions of the jobs as parsed (from the read index); they hold
 * only without a namespace, which leaves every spec as it was parsed.
 */
export function desiredJobsOf(
  parsed: ParsedJobfile,
  file: { rel: string; source: string },
  defaultMaxRetries: number,
  now: number,
  naming: FolderNaming = NO_NAMESPACE,
  knownRevisions?: readonly string[],
): DesiredJob[] {
  const revisions = naming.namespace === null ? knownRevisions : undefined;
  return parsed.jobs.map((job, index) => {
    const spec = { ...job.spec, id: namespaced(naming.namespace, job.spec.id) };
    if (spec.after) {
      spec.after = spec.after.map((id) => (naming.folderIds.has(id) ? namespaced(naming.namespace, id) : id));
    }
    return {
      spec,
      revision: revisions?.[index] ?? specRevision(spec),
      maxRetries: spec.max_retries ?? defaultMaxRetries,
      nextRunAt: firstRunAt(spec, now),
      source: file.source,
      file: file.rel,
      line: job.line,
      column: job.column,
      fields: job.fields,
      ...(job.matrix ? { matrix: job.matrix } : {}),
    };
  });
}
