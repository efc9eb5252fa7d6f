/**
 * Walks a jobs folder and lists the jobfiles in it, without reading them. This is where
 * the folder's trust rules live: anyone who can write a jobfile can run commands as the
 * worker's user, so a folder writable by others is refused, and a symlink that leads out
 * of the folder is never followed.
 */

import { lstatSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { runtimeError, UserError } from "../core/errors.ts";
import { fileProblem, type JobfileProblem } from "./problem.ts";
import { sharedFolder, sharedReason } from "./shared-folder.ts";

export interface ScannedFile {
  /** Relative to the folder, forward slashes: `nightly/backup.yaml`. */
  rel: string;
  /** The resolved file to read (a symlink's target, always inside the folder). */
  real: string;
  /** The path the job's `source` records: the folder's real path joined with `rel`. */
  source: string;
  stats: Stats;
}

export interface ScanResult {
  /** The folder's real path; every `source` lies under it. */
  root: string;
  files: ScannedFile[];
  problems: JobfileProblem[];
  /** Relative paths (files, or folders ending in `/`) whose jobs must be left untouched. */
  blocked: string[];
}

const JOBFILE_EXTENSION = /\.(ya?ml|json)$/i;

/** Editor swap, backup, lock and probe files: vim (`.swp`, `.swx`, `~`, `4913`), emacs (`#…#`, `.#…`), `.tmp`, `.bak`, `.orig`. */
const EDITOR_LEFTOVER = /(~|\.sw[a-p]|\.sw[xo]|\.tmp|\.bak|\.orig)$|^#.*#$|^4913$/i;

/**
 * The copies `git mergetool` leaves beside a conflicted file for as long as the merge takes:
 * `deploy_BASE_31758.yaml`, `_LOCAL_`, `_REMOTE_` and `_BACKUP_`, then the pid and the
 * file's extension. Upper case only, as git writes them, so `db_local_1.yaml` stays a jobfile.
 */
const MERGETOOL_LEFTOVER = /_(BASE|LOCAL|REMOTE|BACKUP)_\d+(\.[^.]*)?$/;

/**
 * Names never read: dotfiles and dot-folders (`.git`, vim swap files, emacs locks), editor
 * leftovers and `git mergetool` copies. Each would declare a job of its own, which a worker
 * would run before the editor or git removed the file.
 */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || EDITOR_LEFTOVER.test(name) || MERGETOOL_LEFTOVER.test(name);
}

export function isJobfileName(name: string): boolean {
  return !isIgnoredName(name) && JOBFILE_EXTENSION.test(name);
}

/**
 * A missing or unreadable jobs folder: an error, never an empty folder. A folder the user
 * may not read is bad input as much as a missing one (exit 2, as for an unreadable
 * jobfile); only a failure of the system itself (EIO, EMFILE) exits 1.
 */
export function unreachableFolder(dir: string, error: unknown): UserError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new UserError(
      `the jobs folder ${dir} does not exist`,
      "check the path, or create the folder; if its last jobfile was removed (git drops an empty folder), create it empty and the next sync cancels their jobs",
    );
  }
  if (code === "EACCES" || code === "EPERM")
    return new UserError(`cannot read the jobs folder ${dir} (${code})`, "check its permissions");
  return runtimeError(
    `cannot read the jobs folder ${dir} (${code ?? (error as Error).message})`,
    "check its permissions",
  );
}

/** A jobs folder as found: its real path, and the device and inode that tell it from a folder later put at that path. */
export interface FolderIdentity {
  root: string;
  dev: number;
  ino: number;
}

/**
 * Resolves and checks the folder itself. A missing or unreadable folder is an error and
 * never an empty folder, so a typo in the path cannot cancel every declared job.
 */
export async function identifyJobsFolder(dir: string, allowSharedFolder: boolean): Promise<FolderIdentity> {
  let root: string;
  let stats: Stats;
  try {
    root = await realpath(dir);
    stats = await stat(root);
  } catch (error) {
    throw unreachableFolder(dir, error);
  }
  if (!stats.isDirectory()) {
    throw new UserError(`${dir} is not a folder`, "give the folder that holds the jobfiles");
  }
  const shared = sharedFolder(dir, stats, root, allowSharedFolder);
  if (shared) throw shared;
  return { root, dev: stats.dev, ino: stats.ino };
}

/** identifyJobsFolder's real path. */
export async function resolveJobsFolder(dir: string, allowSharedFolder: boolean): Promise<string> {
  return (await identifyJobsFolder(dir, allowSharedFolder)).root;
}

/**
 * Why what was read under `identity.root` can no longer be taken for the folder: it is gone
 * (moved away mid-read, its files then only seem deleted), another folder was put at its
 * path, or others can now write to it. Null while it is still the folder identified.
 */
export function whyFolderChanged(
  dir: string,
  identity: FolderIdentity,
  allowSharedFolder: boolean,
): UserError | null {
  let stats: Stats;
  try {
    stats = lstatSync(identity.root);
  } catch (error) {
    return unreachableFolder(dir, error);
  }
  if (!stats.isDirectory() || stats.dev !== identity.dev || stats.ino !== identity.ino) {
    return new UserError(
      `the jobs folder ${dir} was replaced by another one while it was read`,
      "nothing was applied; the next sync reads the folder that is there now",
    );
  }
  return sharedFolder(dir, stats, identity.root, allowSharedFolder);
}

function toRel(root: string, path: string): string {
  // The walk only builds paths by joining names onto `root`, so slicing is enough; path.relative
  // normalizes both sides and cost a fifth of a 10,000-file scan.
  if (sep === "/" && path.startsWith(`${root}/`)) return path.slice(root.length + 1);
  return relative(root, path).split(sep).join("/");
}

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

interface ScanContext {
  root: string;
  allowSharedFolder: boolean;
  result: ScanResult;
  /** Walks a folder found inside; null when only one path is looked at. */
  walk: ((folder: string) => void) | null;
}

function refuse(context: ScanContext, rel: string, message: string, hint: string): void {
  context.result.problems.push(fileProblem(rel, message, hint));
  context.result.blocked.push(rel);
}

/** `known` is the file's lstat when it is no symlink: a second stat would say the same. */
function addFile(context: ScanContext, rel: string, path: string, real: string, known?: Stats): void {
  let stats: Stats;
  try {
    stats = known ?? statSync(real);
  } catch {
    return;
  }
  if (!stats.isFile()) return;
  const shared = context.allowSharedFolder ? null : sharedReason(stats, path);
  if (shared) refuse(context, rel, `this file ${shared.reason}`, shared.hint);
  else context.result.files.push({ rel, real, source: path, stats });
}

/** Why a link's target cannot be read, by realpath's error code. */
function brokenLink(code: string | undefined): string {
  if (code === "ELOOP") return "is a symlink loop: following it never reaches a file";
  if (code === "ENOENT" || code === "ENOTDIR") return "is a symlink to a missing file";
  return `is a symlink that cannot be followed (${code ?? "error"})`;
}

/**
 * A link named like a jobfile is read when its target stays inside the folder. Other links
 * are never followed, but one to a folder outside is reported: the jobs someone linked in
 * from elsewhere would otherwise be missing without a word.
 */
function visitLink(context: ScanContext, rel: string, path: string, isJobfile: boolean): void {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    const hint = "fix the link or remove it; its jobs are left as they are";
    if (isJobfile) refuse(context, rel, brokenLink((error as NodeJS.ErrnoException).code), hint);
    return;
  }
  const inside = isInside(context.root, real);
  if (isJobfile && inside) addFile(context, rel, path, real);
  else if (isJobfile) {
    const message = "is a symlink that leads outside the jobs folder, so it is not followed";
    refuse(context, rel, message, "copy the file into the folder instead");
  } else if (!inside && isFolder(real)) {
    refuse(
      context,
      `${rel}/`,
      "is a symlink to a folder outside the jobs folder, so it is not followed",
      "move or copy that folder into the jobs folder, or remove the link",
    );
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The lstat of the entry whose name readdir decoded as `name`, found by its raw bytes; null if none. */
function undecodableEntry(path: string, name: string): Stats | null {
  const folder = dirname(path);
  try {
    for (const raw of readdirSync(folder, { encoding: "buffer" })) {
      if (raw.toString("utf8") === name) return lstatSync(Buffer.concat([Buffer.from(`${folder}/`), raw]));
    }
  } catch {
    // Gone since, or no longer readable.
  }
  return null;
}

/** Looks at one entry; returns its lstat, or null when it is gone. */
function visit(context: ScanContext, path: string, name: string): Stats | null {
  const { root } = context;
  const rel = toRel(root, path);
  const isJobfile = JOBFILE_EXTENSION.test(name);
  let entry: Stats;
  try {
    // The whole walk is synchronous on purpose: a promise per entry costs more CPU than the
    // system call (awaiting two per file cost a fifth of a 10,000-file scan), and the
    // watcher's periodic scan of 20,000 files must stay cheap.
    entry = lstatSync(path);
  } catch {
    // readdir gave U+FFFD for each byte of the name that is not UTF-8, so that name leads
    // nowhere: said, or the jobs of the file (or of a whole folder) would be missing unseen.
    const undecodable = name.includes("\uFFFD") ? undecodableEntry(path, name) : null;
    const shown = undecodable?.isDirectory() ? `${rel}/` : rel;
    // Two names that differ only in their undecodable bytes read the same: said once.
    if (
      (undecodable?.isDirectory() || (isJobfile && undecodable !== null)) &&
      !context.result.blocked.includes(shown)
    ) {
      refuse(
        context,
        shown,
        "has a name that is not UTF-8, so it cannot be opened",
        "rename it in UTF-8 (e.g. convmv -f latin1 -t utf8 --notest)",
      );
    }
    return null; // Gone since readdir: the next sync sees the folder as it is then.
  }
  if (entry.isSymbolicLink()) {
    visitLink(context, rel, path, isJobfile);
    return entry;
  }
  if (entry.isDirectory()) {
    const shared = context.allowSharedFolder ? null : sharedReason(entry, path);
    if (shared) refuse(context, `${rel}/`, `this folder ${shared.reason}`, shared.hint);
    else context.walk?.(path);
    return entry;
  }
  if (entry.isFile() && isJobfile) addFile(context, rel, path, path, entry);
  return entry;
}

/**
 * Lists the jobfiles under `root` (already resolved by resolveJobsFolder), sorted by path.
 * A symlinked file is read when its target lies inside the folder; symlinked folders are
 * never walked, which rules out loops and one file appearing under two paths, and one
 * leading outside is a problem so that the jobs it seems to hold are not silently missing.
 */
export async function scanJobsFolder(root: string, allowSharedFolder: boolean): Promise<ScanResult> {
  const result: ScanResult = { root, files: [], problems: [], blocked: [] };
  const walk = (folder: string): void => {
    let names: string[];
    try {
      names = readdirSync(folder).sort();
    } catch (error) {
      // Only a subfolder can be blocked: a root that cannot be listed would read as empty.
      if (folder === root) throw unreachableFolder(root, error);
      refuse(
        context,
        `${toRel(root, folder)}/`,
        `cannot read this folder (${(error as NodeJS.ErrnoException).code ?? "error"})`,
        "fix its permissions; its jobs are left as they are",
      );
      return;
    }
    for (const name of names) if (!isIgnoredName(name)) visit(context, join(folder, name), name);
  };
  const context: ScanContext = { root, allowSharedFolder, result, walk };
  walk(root);
  return result;
}

/** What one path under the folder is now, by the same rules as a full scan. */
export type PathScan =
  | { kind: "file"; file: ScannedFile }
  | { kind: "refused"; problems: JobfileProblem[] }
  /** A folder, or a path inside a folder the scan would not walk: only a full scan can tell. */
  | { kind: "folder" }
  | { kind: "missing" }
  /** Not a jobfile (an editor's temp file, a plain file without a jobfile extension). */
  | { kind: "ignored" };

/** Whether every folder between `root` and `rel` is one a full scan walks. */
function walkedTo(root: string, parts: string[], allowSharedFolder: boolean): boolean {
  let folder = root;
  for (const part of parts.slice(0, -1)) {
    folder = join(folder, part);
    try {
      const entry = lstatSync(folder);
      if (!entry.isDirectory() || (!allowSharedFolder && sharedReason(entry, folder))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Looks at `rel` (forward slashes) alone: the watcher's view of a path an event named. */
export async function scanPath(root: string, rel: string, allowSharedFolder: boolean): Promise<PathScan> {
  const parts = rel.split("/");
  if (parts.some(isIgnoredName)) return { kind: "ignored" };
  if (!walkedTo(root, parts, allowSharedFolder)) return { kind: "folder" };
  const result: ScanResult = { root, files: [], problems: [], blocked: [] };
  const context: ScanContext = { root, allowSharedFolder, result, walk: null };
  const path = join(root, ...parts);
  const entry = visit(context, path, parts[parts.length - 1] ?? "");
  // A name that is not UTF-8 is no entry to open, yet is there: a problem, not a file gone.
  if (entry === null && result.problems.some((problem) => problem.file.endsWith("/")))
    return { kind: "folder" };
  if (entry === null && result.problems.length > 0) return { kind: "refused", problems: result.problems };
  if (entry === null) return { kind: "missing" };
  // A folder link's problem lives with the last full scan's folder problems: only a full
  // scan can add it, or clear it when the link is re-pointed inside.
  if (entry.isDirectory() || (entry.isSymbolicLink() && isFolder(path))) return { kind: "folder" };
  if (result.files[0]) return { kind: "file", file: result.files[0] };
  if (result.problems.length > 0) return { kind: "refused", problems: result.problems };
  return { kind: "ignored" };
}
