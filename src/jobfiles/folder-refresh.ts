/**
 * Bringing the watcher's FolderModel up to date with the disk: one path an event named, or
 * a whole scan. Files are read only once settled (settle.ts); a file that is gone is marked
 * missing and forgotten only once it has stayed away for the settle time.
 */

import { type FileEntry, type FolderModel, lastParsed } from "./folder-model.ts";
import { type ScannedFile, type ScanResult, scanPath } from "./scan.ts";
import { readSettled, statKey } from "./settle.ts";

export interface Reading {
  settleMs: number;
  now: () => number;
  allowSharedFolder: boolean;
  /**
   * Throws unless the model's root is still the folder it was read from. A file under a
   * folder moved away or swapped for another only seems gone, and must keep its jobs.
   */
  checkFolder: () => void;
}

/**
 * Marks `rel` missing; true once it has been missing for the settle time and no file that
 * may take its ids is still being written (then it is forgotten).
 */
function markGone(model: FolderModel, rel: string, reading: Reading): boolean {
  reading.checkFolder();
  const before = model.files.get(rel);
  if (before?.kind === "missing") {
    if (!model.mayRemove(before.since, reading.now(), reading.settleMs)) return false;
    model.files.delete(rel);
    return true;
  }
  model.files.set(rel, { kind: "missing", since: reading.now(), last: lastParsed(before) });
  return false;
}

/** Whether `file` is as the model last read it: then there is nothing to read again. */
function isAsRead(before: FileEntry | undefined, file: ScannedFile): boolean {
  return before?.kind === "parsed" && before.key === statKey(file.stats);
}

/**
 * Reads a found file into the model unless its stats are those already read. Returns
 * whether what the file declares may have changed, or "waiting" when it is not settled.
 */
async function readInto(
  model: FolderModel,
  file: ScannedFile,
  reading: Reading,
  previousIds: string[],
): Promise<boolean | "waiting"> {
  const before: FileEntry | undefined = model.files.get(file.rel);
  if (isAsRead(before, file)) return false;
  model.readFrom(file.rel, file.real);
  const read = await readSettled(file, reading.settleMs, reading.now);
  if (read.kind === "wait") {
    model.files.set(file.rel, { kind: "waiting", at: read.at, last: lastParsed(before) });
    return "waiting";
  }
  previousIds.push(...model.ids(file.rel));
  if (read.kind === "gone") return markGone(model, file.rel, reading);
  model.files.set(file.rel, { kind: "parsed", key: read.key, parsed: read.parsed });
  return true;
}

/**
 * Looks at one path an event named. True when what it declares may have changed (plan it),
 * false when nothing is to be planned yet, "folder" when only a full scan can tell.
 * `previousIds` collects the ids the path declared before, for the plan's scope.
 */
export async function refreshPath(
  model: FolderModel,
  rel: string,
  reading: Reading,
  previousIds: string[],
): Promise<boolean | "folder"> {
  const found = await scanPath(model.root, rel, reading.allowSharedFolder);
  if (found.kind === "folder") return "folder";
  if (found.kind === "refused") {
    previousIds.push(...model.ids(rel));
    model.files.set(rel, { kind: "refused", problems: found.problems });
    return true;
  }
  if (found.kind === "file") return (await readInto(model, found.file, reading, previousIds)) === true;
  if (!model.files.has(rel)) {
    // A folder in error (a link outside, a refused subfolder) that went away: only a full
    // scan lifts its problem, which is kept with the scan's, not with any file's.
    const folderGone =
      found.kind === "missing" && (model.hasFilesUnder(rel) || model.scanBlocked.includes(`${rel}/`));
    return folderGone ? "folder" : false;
  }
  previousIds.push(...model.ids(rel));
  return markGone(model, rel, reading);
}

/** Applies a full scan to the model; true when anything differs from what the model held. */
export async function refreshFromScan(
  model: FolderModel,
  scan: ScanResult,
  reading: Reading,
  previousIds: string[],
): Promise<boolean> {
  const refusedFiles = new Set(scan.blocked.filter((rel) => !rel.endsWith("/")));
  const scanBlocked = scan.blocked.filter((rel) => !refusedFiles.has(rel));
  let changed = scanBlocked.join("\n") !== model.scanBlocked.join("\n");
  model.scanBlocked = scanBlocked;
  model.scanProblems = scan.problems.filter((problem) => !refusedFiles.has(problem.file));
  for (const rel of refusedFiles) {
    changed ||= model.files.get(rel)?.kind !== "refused";
    model.files.set(rel, { kind: "refused", problems: scan.problems.filter((p) => p.file === rel) });
  }
  const seen = new Set(refusedFiles);
  for (const file of scan.files) {
    seen.add(file.rel);
    // A file as it was read, the common case of a periodic re-sync, is passed over without
    // a promise: awaiting 20,000 of them took two fifths of the refresh after the scan.
    if (isAsRead(model.files.get(file.rel), file)) continue;
    if ((await readInto(model, file, reading, previousIds)) !== false) changed = true;
  }
  const gone = [...model.files.keys()].filter((rel) => !seen.has(rel));
  for (const rel of gone) markGone(model, rel, reading);
  return changed || gone.length > 0;
}
