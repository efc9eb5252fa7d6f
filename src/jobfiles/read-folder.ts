/**
 * The reading half of a sync: a jobs folder into the desired state. With a read index, a
 * file whose stat key is unchanged (and not racy) is taken from the index unopened; every
 * other file is read, and its parse is reused only when its bytes hash the same.
 */

import { readFileSync } from "node:fs";
import { resolveConfig } from "../core/config.ts";
import type { Store } from "../store/store.ts";
import { type FolderNaming, namespaced, readFolderSettings } from "./folder-settings.ts";
import { MAX_JOBFILE_BYTES, type ParsedJobfile } from "./parse.ts";
import type { DesiredState } from "./plan.ts";
import { desiredJobsOf, parseJobfileBytes, readError, tooLarge } from "./read.ts";
import { resolveJobsFolder, type ScannedFile, scanJobsFolder } from "./scan.ts";
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

function readParsed(file: ScannedFile, update: IndexUpdate | null): ParsedJobfile | "gone" {
  const { stats } = file;
  const key = statKey(stats);
  const known = update?.index.entries.get(file.rel);
  if (update && known?.key === key && known.real === file.real && !isRacy(update.index, stats)) {
    update.next.set(file.rel, known);
    return known.parsed;
  }
  if (update) update.changed = true;
  if (stats.size > MAX_JOBFILE_BYTES) return tooLarge(file.rel);
  let bytes: Buffer;
  try {
    // Synchronous: jobfiles are small, and a promise per file costs more than the read.
    bytes = readFileSync(file.real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "gone";
    return readError(file.rel, code);
  }
  if (!update) return parseJobfileBytes(bytes, file.rel);
  const hash = contentHash(bytes);
  const parsed =
    known?.hash === hash && known.real === file.real ? known.parsed : parseJobfileBytes(bytes, file.rel);
  update.next.set(file.rel, { real: file.real, key, hash, parsed });
  return parsed;
}

/** Reads the folder into the desired state. Throws a UserError when the folder itself is unusable. */
export async function readJobsFolder(options: ReadFolderOptions): Promise<FolderRead> {
  const startedAt = Date.now();
  const allowShared = options.allowSharedFolder ?? false;
  const root = await resolveJobsFolder(options.dir, allowShared);
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
  };
  const parsedFiles: { file: ScannedFile; parsed: ParsedJobfile }[] = [];
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
    const parsed = readParsed(file, update);
    if (parsed === "gone") {
      desired.blocked.push(file.rel);
      continue;
    }
    parsedFiles.push({ file, parsed });
  }
  options.onProgress?.(done, scan.files.length);
  // Entries of files gone from the folder (or left for later) are dropped with the rewrite.
  if (update && (update.changed || update.next.size !== update.index.entries.size) && options.indexDir) {
    saveSyncIndex(options.indexDir, { root, entries: update.next }, startedAt);
  }
  // `after` entries that name one of the folder's own jobs move into its namespace with it.
  const naming: FolderNaming = {
    namespace,
    folderIds: new Set(parsedFiles.flatMap(({ parsed }) => parsed.knownIds)),
  };
  for (const { file, parsed } of parsedFiles) {
    if (parsed.problems.length > 0) {
      desired.problems.push(...parsed.problems);
      desired.blocked.push(file.rel);
      desired.blockedIds.push(...parsed.knownIds.map((id) => namespaced(naming.namespace, id)));
      continue;
    }
    desired.jobs.push(...desiredJobsOf(parsed, file, config.maxRetries, options.now, naming));
  }
  return { desired, fileCount: scan.files.length, settlesAt };
}
