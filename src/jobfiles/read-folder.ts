/**
 * The reading half of a sync: a jobs folder into the desired state. With a read index, a
 * file whose stat key is unchanged (and not racy) is taken from the index unopened; every
 * other file is read, and its parse is reused only when its bytes hash the same.
 */

import { readFileSync } from "node:fs";
import { resolveConfig } from "../core/config.ts";
import type { Store } from "../store/store.ts";
import type { DesiredState } from "./desired.ts";
import { heldDeclarations, heldIdsOf } from "./folder-model.ts";
import { type FolderNaming, namespaced, readFolderSettings } from "./folder-settings.ts";
import { MAX_JOBFILE_BYTES, type ParsedJobfile } from "./parse.ts";
import { desiredJobsOf, parseJobfileBytes, readError, tooLarge } from "./read.ts";
import { identifyJobsFolder, type ScannedFile, scanJobsFolder, whyFolderChanged } from "./scan.ts";
import { statKey } from "./settle.ts";
import {
  contentHash,
  type IndexEntry,
  isRacy,
  loadSyncIndex,
  type SyncIndex,
  saveSyncIndex,
} from "./sync-index.ts";

export interface ReadFolderOptions {
  store: Store;
  dir: string;
  now: number;
  /** Read a folder that others can write. Default false: such a folder is refused. */
  allowSharedFolder?: boolean;
  /**
   * Files modified less than this many ms before `now` are left as they are for a later
   * sync, since they may be half-written. Default 0 (read everything), as for a one-off sync.
   */
  settleMs?: number;
  /**
   * The folder holding read indexes (`$QUEUECTL_HOME/sync-index` for the CLI). Default
   * undefined: no index, every file is read and parsed.
   */
  indexDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface FolderRead {
  desired: DesiredState;
  fileCount: number;
  /** When the first file left for later will have settled, or null when none was. */
  settlesAt: number | null;
}

/** An mtime this far in the future is clock skew (e.g. a network mount), not a write in progress. */
const MAX_CLOCK_SKEW_MS = 2000;

interface IndexUpdate {
  index: SyncIndex;
  next: Map<string, IndexEntry>;
  /** Whether `next` differs from what is on disk, so it must be written. */
  changed: boolean;
}

/** The file's parse, with its index entry when it has one. */
interface FileRead {
  parsed: ParsedJobfile;
  entry: IndexEntry | null;
}

function readParsed(file: ScannedFile, update: IndexUpdate | null): FileRead | "gone" {
  const { stats } = file;
  const key = statKey(stats);
  const known = update?.index.entries.get(file.rel);
  const sameTarget = (known?.real ?? file.source) === file.real;
  if (update && known?.key === key && sameTarget && !isRacy(update.index, stats)) {
    update.next.set(file.rel, known);
    return { parsed: known.parsed, entry: known };
  }
  if (update) update.changed = true;
  if (stats.size > MAX_JOBFILE_BYTES) return { parsed: tooLarge(file.rel), entry: null };
  let bytes: Buffer;
  try {
    // Synchronous: jobfiles are small, and a promise per file costs more than the read.
    bytes = readFileSync(file.real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "gone";
    return { parsed: readError(file.rel, code), entry: null };
  }
  if (!update) return { parsed: parseJobfileBytes(bytes, file.rel), entry: null };
  const hash = contentHash(bytes);
  const same = known?.hash === hash && sameTarget;
  const entry: IndexEntry = same
    ? { key, hash, parsed: known.parsed, revisions: known.revisions }
    : { key, hash, parsed: parseJobfileBytes(bytes, file.rel) };
  if (file.real !== file.source) entry.real = file.real;
  update.next.set(file.rel, entry);
  return { parsed: entry.parsed, entry };
}

/**
 * The folder's own ids that only the store knows now (heldIdsOf): read only when a
 * namespaced folder has a file it cannot read and an `after` entry names no id its
 * readable files declare (`known`). Ids are taken as the folder's files give them.
 */
async function heldIdsFor(
  store: Store,
  root: string,
  namespace: string | null,
  known: ReadonlySet<string>,
  files: readonly ({ file: ScannedFile } & FileRead)[],
  blocked: readonly string[],
): Promise<string[]> {
  if (namespace === null) return [];
  const readable = files.filter(({ parsed }) => parsed.problems.length === 0);
  const inError = files.filter(({ parsed }) => parsed.problems.length > 0).map(({ file }) => file.rel);
  const unreadable = [...blocked, ...inError];
  const unknown = new Set(
    readable
      .flatMap(({ parsed }) => parsed.jobs.flatMap((job) => job.spec.after ?? []))
      .filter((id) => !known.has(id)),
  );
  if (unreadable.length === 0 || unknown.size === 0) return [];
  const rows = await store.jobDeclarations({ ids: [...unknown].map((id) => namespaced(namespace, id)) });
  return heldIdsOf(heldDeclarations(rows, root, namespace), unreadable);
}

/** Reads the folder into the desired state. Throws a UserError when the folder itself is unusable. */
export async function readJobsFolder(options: ReadFolderOptions): Promise<FolderRead> {
  const startedAt = Date.now();
  const allowShared = options.allowSharedFolder ?? false;
  const identity = await identifyJobsFolder(options.dir, allowShared);
  const { root } = identity;
  const scan = await scanJobsFolder(root, allowShared);
  const config = resolveConfig(await options.store.configGetAll());
  const { namespace } = await readFolderSettings(root);
  const update: IndexUpdate | null = options.indexDir
    ? { index: loadSyncIndex(options.indexDir, root), next: new Map(), changed: false }
    : null;
  const desired: DesiredState = {
    root,
    jobs: [],
    problems: scan.problems,
    blocked: scan.blocked,
    blockedIds: [],
    namespace,
    files: [],
  };
  const parsedFiles: ({ file: ScannedFile } & FileRead)[] = [];
  const settleMs = options.settleMs ?? 0;
  let settlesAt: number | null = null;
  let done = 0;
  for (const file of scan.files) {
    options.onProgress?.(done++, scan.files.length);
    const age = options.now - file.stats.mtimeMs;
    if (settleMs > 0 && age < settleMs && age > -MAX_CLOCK_SKEW_MS) {
      desired.blocked.push(file.rel);
      settlesAt = Math.min(settlesAt ?? Number.POSITIVE_INFINITY, file.stats.mtimeMs + settleMs);
      continue;
    }
    const read = readParsed(file, update);
    if (read === "gone") {
      desired.blocked.push(file.rel);
      continue;
    }
    parsedFiles.push({ file, ...read });
  }
  options.onProgress?.(done, scan.files.length);
  // `after` entries that name one of the folder's own jobs move into its namespace with it.
  const known = new Set(parsedFiles.flatMap(({ parsed }) => parsed.knownIds));
  const held = await heldIdsFor(options.store, root, namespace, known, parsedFiles, desired.blocked);
  const naming: FolderNaming = { namespace, folderIds: new Set([...known, ...held]) };
  for (const { file, parsed, entry } of parsedFiles) {
    if (parsed.problems.length > 0) {
      desired.problems.push(...parsed.problems);
      desired.blocked.push(file.rel);
      desired.blockedIds.push(...parsed.knownIds.map((id) => namespaced(naming.namespace, id)));
      continue;
    }
    desired.files?.push(file.rel);
    const jobs = desiredJobsOf(parsed, file, config.maxRetries, options.now, naming, entry?.revisions);
    if (update && entry && !entry.revisions && naming.namespace === null) {
      entry.revisions = jobs.map((job) => job.revision);
      update.changed = true;
    }
    desired.jobs.push(...jobs);
  }
  // Files that seem gone because the folder moved away mid-read, or settings read from a
  // folder swapped in at its path, must not be planned as removals or a new namespace.
  const change = whyFolderChanged(options.dir, identity, allowShared);
  if (change) throw change;
  // Entries of files gone from the folder (or left for later) are dropped with the rewrite.
  if (update && (update.changed || update.next.size !== update.index.entries.size) && options.indexDir) {
    saveSyncIndex(options.indexDir, { root, entries: update.next }, startedAt);
  }
  return { desired, fileCount: scan.files.length, settlesAt };
}
