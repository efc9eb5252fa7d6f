/**
 * The read index of a jobs folder, as git's index is for a work tree: for each jobfile, the
 * stat key it had when it was read, a hash of its bytes and what it parsed to. A sync takes
 * a file whose stat key is unchanged from the index without opening it, so a no-op re-sync
 * of 10,000 files costs a folder walk instead of 10,000 parses.
 *
 * It lives in `$QUEUECTL_HOME/sync-index/<hash of the folder's real path>.json`, mode 0600.
 * It holds no queue state, only what the files said, so one index serves every store.
 *
 * Racy entries (git's "racy git" problem): a file rewritten within the timestamp granularity
 * of the moment it was read can keep its size and times while its bytes change. An entry
 * whose mtime or ctime is that close to the start of the sync that read it is "racy": the
 * next sync reads the file again and compares hashes (reusing the parse when they match)
 * before trusting it, and then records it as settled. Times are kept as the ms doubles the
 * stat gives (to about a quarter of a microsecond): two writes closer than that both fall
 * in the racy window of any read between them.
 */

import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ParsedJobfile } from "./parse.ts";

/**
 * Bumped whenever the parser or this file's shape changes what an entry means (2: `matrix`
 * declarations, which format 1 recorded as errors; 3: only the places of `after` fields;
 * 4: YAML merge keys, which format 3 recorded as errors, a conflicted file as one problem,
 * and a JSON file's syntax problems worded as JSON).
 */
const INDEX_FORMAT = 4;

/**
 * How close to the reading sync's start a file's times make it racy. Sub-second timestamps
 * come from a clock that ticks every few ms (a jiffy; 10 ms on exFAT): one second is git's own
 * margin. Whole-second timestamps may come from a 2-second clock (FAT) or a server that
 * rounds, so they get two.
 */
const RACY_WINDOW_MS = 1000;
const RACY_WINDOW_COARSE_MS = 2000;

export interface IndexEntry {
  /** The file read, when it is not the path scanned (a symlink's target); else absent. */
  real?: string;
  /** `statKey` of the file when it was scanned, before it was read. */
  key: string;
  /** sha256 of the bytes read, its first 128 bits in hex. */
  hash: string;
  parsed: ParsedJobfile;
  /** Each job's revision as parsed, which is the revision it has in a folder without a namespace. */
  revisions?: string[];
}

export interface SyncIndex {
  /** The folder's real path; an index of another folder is never used. */
  root: string;
  entries: Map<string, IndexEntry>;
  /** Entries at or after this time (ms, the file system's clock) are racy. */
  racyFrom: number;
}

interface IndexFileShape {
  format: number;
  root: string;
  /** ms (local clock) from the start of the sync that wrote the index to its writing. */
  elapsedMs: number;
  /** When that sync started, ms on the local clock. */
  startedAt: number;
  entries: Record<string, IndexEntry>;
}

export function contentHash(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex").slice(0, 32);
}

export function syncIndexPath(indexDir: string, root: string): string {
  const name = new Bun.CryptoHasher("sha256").update(root).digest("hex").slice(0, 32);
  return join(indexDir, `${name}.json`);
}

/** Whether an entry read for a file with these times may hide a later same-size rewrite. */
export function isRacy(index: SyncIndex, stats: { mtimeMs: number; ctimeMs: number }): boolean {
  const latest = Math.max(stats.mtimeMs, stats.ctimeMs);
  const coarse = stats.mtimeMs % 1000 === 0 && stats.ctimeMs % 1000 === 0;
  return latest >= index.racyFrom - (coarse ? RACY_WINDOW_COARSE_MS : RACY_WINDOW_MS);
}

function emptyIndex(root: string): SyncIndex {
  return { root, entries: new Map(), racyFrom: Number.POSITIVE_INFINITY };
}

function isEntry(value: unknown): value is IndexEntry {
  const entry = value as IndexEntry | null;
  const parsed = entry?.parsed;
  return (
    typeof entry === "object" &&
    entry !== null &&
    (entry.real === undefined || typeof entry.real === "string") &&
    (entry.revisions === undefined || Array.isArray(entry.revisions)) &&
    typeof entry.key === "string" &&
    typeof entry.hash === "string" &&
    typeof parsed === "object" &&
    parsed !== null &&
    Array.isArray(parsed.jobs) &&
    Array.isArray(parsed.problems) &&
    Array.isArray(parsed.knownIds)
  );
}

/**
 * Loads the index of `root`, or an empty one. Anything doubtful is ignored, never trusted:
 * an index that is missing, corrupt, of another format or folder, not a plain file, not
 * ours, or writable by others (whoever writes it decides which commands run).
 */
export function loadSyncIndex(indexDir: string, root: string): SyncIndex {
  const path = syncIndexPath(indexDir, root);
  try {
    const stats = lstatSync(path);
    const uid = process.getuid?.();
    if (!stats.isFile() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o077) !== 0) {
      return emptyIndex(root);
    }
    const data = JSON.parse(readFileSync(path, "utf8")) as IndexFileShape;
    if (data?.format !== INDEX_FORMAT || data.root !== root || typeof data.entries !== "object") {
      return emptyIndex(root);
    }
    if (typeof data.elapsedMs !== "number" || typeof data.startedAt !== "number") return emptyIndex(root);
    const entries = new Map<string, IndexEntry>();
    for (const [rel, entry] of Object.entries(data.entries ?? {}))
      if (isEntry(entry)) entries.set(rel, entry);
    // The sync's start on the file system's clock (the index file's mtime, less the time
    // it took), or on ours if that is later: whichever flags more entries as racy.
    const racyFrom = Math.max(stats.mtimeMs - Math.max(0, data.elapsedMs), data.startedAt);
    return { root, entries, racyFrom };
  } catch {
    return emptyIndex(root);
  }
}

/**
 * Writes the index atomically (a temporary file renamed over it), 0600 in a 0700 folder.
 * A failure to write costs only speed, so it is ignored.
 */
export function saveSyncIndex(
  indexDir: string,
  index: { root: string; entries: Map<string, IndexEntry> },
  startedAt: number,
): void {
  const path = syncIndexPath(indexDir, index.root);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(indexDir, { recursive: true, mode: 0o700 });
    const data: IndexFileShape = {
      format: INDEX_FORMAT,
      root: index.root,
      elapsedMs: Date.now() - startedAt,
      startedAt,
      entries: Object.fromEntries(index.entries),
    };
    writeFileSync(temporary, JSON.stringify(data), { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Nothing was written, or the folder is unusable: either way there is nothing to undo.
    }
  }
}
