/**
 * Which jobs folder may declare an id (DESIGN.md, "Ownership"). One store may serve several
 * folders, so an id declared by another folder that still exists and still declares it is
 * refused, never taken over in silence. A folder takes a job over, visibly in the plan, when
 * the owning folder no longer exists (it moved, or was re-cloned elsewhere), when the owner
 * no longer declares the job, when the owner is what this folder was before it was
 * re-pointed (a symlinked `jobs -> releases/v2` now pointing at `releases/v3`), or when the
 * user asks with `sync --adopt`.
 *
 * Folders never nest: a folder inside another synced one would declare its files a second
 * time, under other ids (nestedFolder).
 */

import { dirname, sep } from "node:path";
import { isOwnedBy, type JobFacts, ownerKey } from "./reconcile.ts";

export type AdoptReason = "gone" | "undeclared" | "relinked" | "asked";

/** Another folder's declaration taken over, and why it may be. */
export interface Adoption {
  from: string;
  reason: AdoptReason;
}

export type Ownership =
  | { kind: "ours" }
  | { kind: "adHoc" }
  | ({ kind: "adopt" } & Adoption)
  /** `owner` names a folder, as a refusal shows it (ownerFolderText). */
  | { kind: "foreign"; owner: string };

export interface OwnershipContext {
  /** The declaring folder's real path. */
  root: string;
  /** Whether the owning folder (or, for rows without one, the declaring file) is still on disk. */
  ownerExists: boolean;
  /** `sync --adopt`: take over ids another live folder declares. Default false. */
  adopt: boolean;
  /**
   * The real folder the same named folder was synced from last, when that differs from
   * `root`: a symlinked jobs folder re-pointed since. Its jobs are this folder's now.
   */
  supersedes?: string | null;
}

/**
 * What decides: a job's row, or a schedule's as a job's would read (schedules keep no owner
 * column, so the folder their file lies in stands for it, and a stored schedule is declared).
 */
export type OwnedFacts = Pick<JobFacts, "owner" | "source" | "declared">;

export function decideOwnership(facts: OwnedFacts | null, context: OwnershipContext): Ownership {
  if (!facts || isOwnedBy(facts, context.root)) return { kind: "ours" };
  const from = ownerKey(facts);
  if (from === null) return { kind: "adHoc" };
  if (context.supersedes && isOwnedBy(facts, context.supersedes))
    return { kind: "adopt", from, reason: "relinked" };
  if (!context.ownerExists) return { kind: "adopt", from, reason: "gone" };
  if (!facts.declared) return { kind: "adopt", from, reason: "undeclared" };
  if (context.adopt) return { kind: "adopt", from, reason: "asked" };
  return { kind: "foreign", owner: ownerFolderText(facts) };
}

/** What this host can tell of another folder on its own disk. */
export type FolderPresence = "present" | "absent" | "unknown";

/**
 * Whether another folder counts as gone, so that its jobs are taken over without `--adopt`:
 * only when this host sees that it is not there (not that it cannot look: another user's
 * home) and nothing keeps it: no other host, and no live watcher here. Hosts sharing one
 * PostgreSQL queue each sync folders on their own disks, so a folder last synced or watched
 * from another host says nothing by being absent here; and a folder watched here is only
 * away for a while (its repo checked out at a commit without it).
 */
export function ownerGone(onDisk: FolderPresence, stillKept: boolean): boolean {
  return onDisk === "absent" && !stillKept;
}

/**
 * The owning folder as a refusal names it. A row that keeps no owner (declared before owners
 * were kept, or a schedule no sync record places) knows only its file: the folder holding
 * that file stands for the owner, as isOwnedBy reads it, and the file is named beside it,
 * since that folder may lie below the jobs folder itself.
 */
export function ownerFolderText(facts: Pick<JobFacts, "owner" | "source">): string {
  if (facts.owner !== null || facts.source === null) return facts.owner ?? "";
  return `${dirname(facts.source)} (declared by ${facts.source})`;
}

/** Another folder the store keeps a sync record of, as found on disk now. */
export interface SyncedFolder {
  /** The folder as its record names it. */
  folder: string;
  /** Real paths it reads now and was last read from, those still on disk. */
  paths: readonly string[];
  /**
   * Whether its last sync found any jobfile. One that found none declares nothing any
   * more: everything it declared was canceled or forgotten.
   */
  declares: boolean;
}

export interface Nesting {
  /** `inside`: the folder being synced lies inside `path`; `holds`: `path` lies inside it. */
  kind: "inside" | "holds";
  folder: string;
  path: string;
}

function isUnder(path: string, folder: string): boolean {
  return path !== folder && path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * A folder synced into the store that lies inside the folder at `root` (a real path), or
 * holds it. Each declares the files of the inner one, under two ids (`team/x` and `x`), so
 * the same command would be queued twice; the second of the two is refused. One folder
 * under two names (a link and its target) is one folder, not a nesting.
 */
export function nestedFolder(
  root: string,
  folders: readonly SyncedFolder[],
  /** Whether the outer folder's walk skips an entry of this name (a dot-folder, an editor's copy). */
  skipped: (name: string) => boolean,
): Nesting | null {
  // A folder the outer one never walks into (`.worktrees/feat` under a synced root) is read once.
  const readBy = (outer: string, inner: string) =>
    isUnder(inner, outer) &&
    !inner
      .slice(outer.length)
      .split(sep)
      .some((name) => name !== "" && skipped(name));
  for (const other of folders) {
    if (!other.declares) continue;
    for (const path of other.paths) {
      if (readBy(path, root)) return { kind: "inside", folder: other.folder, path };
      if (readBy(root, path)) return { kind: "holds", folder: other.folder, path };
    }
  }
  return null;
}
