/**
 * From a jobfile's bytes to the jobs it declares: the size cap, UTF-8, parsing, and the
 * fields the queue derives (revision, retries, first run). `queuectl sync` and the watcher
 * both go through here, so a file means the same to both.
 */

import { firstRunAt, specRevision } from "../core/spec.ts";
import { encodingOf } from "../core/text-lines.ts";
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
  // A byte-order mark picks UTF-16, as Windows editors and PowerShell's Out-File write it.
  const encoding = encodingOf(bytes);
  let text: string;
  try {
    text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    if (encoding !== "utf-8")
      return unreadable(rel, `is not ${encoding.toUpperCase()} text`, "save it as UTF-8");
    const problem = fileProblem(rel, "is not UTF-8 text", "save it as UTF-8");
    return { jobs: [], knownIds: [], problems: [{ ...problem, ...invalidBytePlace(bytes) }] };
  }
  return parseJobfile(text, rel);
}

/** Where the first byte that is not UTF-8 sits, as line and column (in characters). */
function invalidBytePlace(bytes: Uint8Array): { line: number; column: number } {
  const at = firstInvalidByte(bytes);
  // lastIndexOf(x, -1) would search from the end.
  const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1;
  let line = 1;
  for (let index = 0; index < lineStart; index++) if (bytes[index] === 0x0a) line++;
  // In characters as an editor counts them: code points, not UTF-16 units.
  const column = [...new TextDecoder("utf-8").decode(bytes.subarray(lineStart, at))].length + 1;
  return { line, column };
}

/**
 * How many continuation bytes follow a lead byte, and the range the first of them must fall
 * in, which rules out overlong forms, surrogates and code points past U+10FFFF (RFC 3629).
 * Null for a byte that cannot lead a sequence.
 */
function utf8Sequence(lead: number): [length: number, low: number, high: number] | null {
  if (lead >= 0xc2 && lead <= 0xdf) return [1, 0x80, 0xbf];
  if (lead === 0xe0) return [2, 0xa0, 0xbf];
  if (lead === 0xed) return [2, 0x80, 0x9f];
  if (lead >= 0xe1 && lead <= 0xef) return [2, 0x80, 0xbf];
  if (lead === 0xf0) return [3, 0x90, 0xbf];
  if (lead >= 0xf1 && lead <= 0xf3) return [3, 0x80, 0xbf];
  if (lead === 0xf4) return [3, 0x80, 0x8f];
  return null;
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidByte(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] ?? 0;
    if (lead < 0x80) {
      index++;
      continue;
    }
    const sequence = utf8Sequence(lead);
    if (sequence === null) return index;
    const [length, low, high] = sequence;
    const first = bytes[index + 1];
    if (first === undefined || first < low || first > high) return index;
    for (let next = 2; next <= length; next++) {
      const byte = bytes[index + next];
      if (byte === undefined || (byte & 0xc0) !== 0x80) return index;
    }
    index += length + 1;
  }
  return index;
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
