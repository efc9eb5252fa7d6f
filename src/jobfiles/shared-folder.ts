/**
 * A jobs folder, subfolder or jobfile that someone else could rewrite is refused: whoever
 * can write a jobfile can run commands as the user who syncs it. Group-writable is fine
 * when the group is the user's own (Debian's private groups with umask 002).
 */

import { readFileSync, type Stats } from "node:fs";
import { shellWord, UserError } from "../core/errors.ts";

const canCheckOwnership = process.platform !== "win32" && typeof process.getuid === "function";
/** Asked once: a system call per scanned file was 4 % of a 10,000-file re-sync. */
const ownUid = process.getuid?.() ?? 0;

let privateGroups: Map<number, boolean> | undefined;

function accountLines(path: string): string[][] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.split(":"));
}

/**
 * Whether nobody but this user belongs to group `gid`: no other account has it as its
 * primary group and no other name is listed as a member. Debian and Ubuntu give each user
 * such a group and a umask of 002, so a fresh `git clone` is group-writable; that grants
 * nobody else anything and must not be refused. When the files cannot tell, the answer is no.
 */
function isPrivateGroup(gid: number): boolean {
  privateGroups ??= new Map();
  const known = privateGroups.get(gid);
  if (known !== undefined) return known;
  let result = false;
  try {
    const uid = String(ownUid);
    const accounts = accountLines("/etc/passwd");
    const self = accounts.find((fields) => fields[2] === uid)?.[0];
    const group = accountLines("/etc/group").find((fields) => fields[2] === String(gid));
    const members = (group?.[3] ?? "").split(",").filter((name) => name !== "" && name !== self);
    const others = accounts.filter((fields) => fields[3] === String(gid) && fields[2] !== uid);
    result = self !== undefined && group !== undefined && members.length === 0 && others.length === 0;
  } catch {
    result = false;
  }
  privateGroups.set(gid, result);
  return result;
}

/** Why others could rewrite this entry and the hint that fixes it, or null when only its owner (us or root) can. */
export function sharedReason(stats: Stats, path: string): { reason: string; hint: string } | null {
  if (!canCheckOwnership) return null;
  const writable =
    (stats.mode & 0o002) !== 0
      ? "is writable by every user"
      : (stats.mode & 0o020) !== 0 && !isPrivateGroup(stats.gid)
        ? "is writable by its group"
        : null;
  const owned = stats.uid !== ownUid && stats.uid !== 0;
  if (writable === null && !owned) return null;
  const reason = [writable, owned ? `belongs to another user (uid ${stats.uid})` : null]
    .filter((part) => part !== null)
    .join(" and ");
  return { reason, hint: sharedHint(path, stats.isDirectory(), writable !== null, owned) };
}

/**
 * `path` is absolute so the command works wherever it is pasted: the watcher and sync name
 * the file relative to the jobs folder, which is rarely the user's current folder. Each
 * command must undo every reason given, or running it only brings up the next refusal.
 */
function sharedHint(path: string, isFolder: boolean, writable: boolean, owned: boolean): string {
  const target = shellWord(path);
  const commands: string[] = [];
  // A folder another user owns usually holds files they made too.
  if (owned) commands.push(`chown ${isFolder ? "-R " : ""}${ownUid} ${target}`);
  if (writable) commands.push(`chmod go-w ${target}`);
  const who = writable ? "anyone who can write there" : "its owner";
  // Only root may give a file away, so anyone else needs root's help or must drop the file.
  const fix = owned && ownUid !== 0 ? "have root run" : "run";
  const remove = owned && !isFolder ? ", remove it" : "";
  return `${who} can run commands as this user; ${fix} \`${commands.join(" && ")}\`${remove}, or pass --allow-shared-folder if you trust them`;
}

export function sharedFolder(
  dir: string,
  stats: Stats,
  root: string,
  allowSharedFolder: boolean,
): UserError | null {
  const shared = allowSharedFolder ? null : sharedReason(stats, root);
  return shared ? new UserError(`the jobs folder ${dir} ${shared.reason}`, shared.hint) : null;
}
