/**
 * The watcher's picture of its folder: what each jobfile declared when it was last read,
 * which files are still being written, and which have gone missing. An event then re-reads
 * only the files it names, and the plan covers those files plus every file that shares an
 * id or a dependency with them, which is what a full plan would have looked at for them.
 *
 * What must hold: a file being written, or missing for less than the settle time, keeps
 * every job it declared (it is blocked); only a file missing for the settle time is removed.
 */

import { join, relative, sep } from "node:path";
import { isOwnedBy, type JobFacts } from "../core/reconcile.ts";
import type { DesiredState } from "./desired.ts";
import { type FolderNaming, namespaced } from "./folder-settings.ts";
import type { ParsedJobfile } from "./parse.ts";
import type { Plan } from "./plan.ts";
import type { JobfileProblem } from "./problem.ts";
import { desiredJobsOf } from "./read.ts";

/** The most settle times a missing file's removal waits for files still being written. */
const REMOVAL_WAIT_SETTLES = 10;

export type FileEntry =
  | { kind: "parsed"; key: string; parsed: ParsedJobfile }
  /** Changed and not settled yet: look again at `at`. `last` is what it declared before. */
  | { kind: "waiting"; at: number; last: ParsedJobfile | null }
  /** Not there since `since`; removed once it has stayed away for the settle time. */
  | { kind: "missing"; since: number; last: ParsedJobfile | null }
  | { kind: "refused"; problems: JobfileProblem[] };

/**
 * The model's files. Entries are replaced, never changed in place, so counting the changes
 * tells lastSettle when its answer still holds: a checkout of 20,000 files would otherwise
 * walk them all again for each file it removed.
 */
class FileEntries extends Map<string, FileEntry> {
  changes = 0;

  override set(rel: string, entry: FileEntry): this {
    this.changes++;
    return super.set(rel, entry);
  }

  override delete(rel: string): boolean {
    this.changes++;
    return super.delete(rel);
  }

  override clear(): void {
    this.changes++;
    super.clear();
  }
}

/** The files a plan covers, and every id they declare (now or before), for scoping the store's side. */
export interface Affected {
  rels: Set<string>;
  ids: Set<string>;
}

/**
 * What the store holds from the folder's files, in the folder's own ids: a file in error
 * keeps these jobs even when its broken text no longer names them, so they tie it to
 * whichever file declares one of them now.
 */
export interface Held {
  fileOf: Map<string, string>;
  idsOf: Map<string, string[]>;
}

export function heldDeclarations(
  declared: readonly Pick<JobFacts, "id" | "source" | "declared" | "owner">[],
  root: string,
  namespace: string | null,
): Held {
  const held: Held = { fileOf: new Map(), idsOf: new Map() };
  const prefix = root.endsWith(sep) ? root : root + sep;
  const idPrefix = namespace === null ? "" : `${namespace}/`;
  for (const row of declared) {
    if (!row.declared || !row.source?.startsWith(prefix) || !isOwnedBy(row, root)) continue;
    if (!row.id.startsWith(idPrefix)) continue;
    const id = row.id.slice(idPrefix.length);
    const rel = relative(root, row.source).split(sep).join("/");
    held.fileOf.set(id, rel);
    held.idsOf.set(rel, [...(held.idsOf.get(rel) ?? []), id]);
  }
  return held;
}

const NOTHING_HELD: Held = { fileOf: new Map(), idsOf: new Map() };

/**
 * The ids, as the folder's files give them, that the store holds from the folder's files
 * that cannot be read now: in error (a syntax error, a merge conflict), still being
 * written, or under a subfolder that was refused (`unreadable`: paths relative to the root,
 * files or folders). Such a file keeps the jobs it declared, so they are still the folder's
 * own: an `after` naming one means this folder's job, in its namespace, not a job of that
 * bare id elsewhere, which would queue a finished sibling again as a new revision.
 */
export function heldIdsOf(held: Held, unreadable: readonly string[]): string[] {
  const under = (rel: string) =>
    unreadable.some((path) => {
      const folder = path.replace(/\/+$/, "");
      return rel === folder || rel.startsWith(`${folder}/`);
    });
  return [...held.idsOf].flatMap(([rel, ids]) => (under(rel) ? ids : []));
}

export function lastParsed(entry: FileEntry | undefined): ParsedJobfile | null {
  if (!entry || entry.kind === "refused") return null;
  return entry.kind === "parsed" ? entry.parsed : entry.last;
}

function idsOf(parsed: ParsedJobfile | null): string[] {
  if (!parsed) return [];
  return [...parsed.knownIds, ...parsed.jobs.map((job) => job.spec.id)];
}

function aftersOf(parsed: ParsedJobfile | null): string[] {
  return parsed ? parsed.jobs.flatMap((job) => job.spec.after ?? []) : [];
}

export class FolderModel {
  readonly files = new FileEntries();
  private settleKnown: { changes: number; last: number | null } | null = null;
  /** Problems of the last plan that covered each file: parse errors and conflicts alike. */
  private readonly problems = new Map<string, JobfileProblem[]>();
  /** Folders and files the last full scan refused, with why. */
  scanBlocked: string[] = [];
  scanProblems: JobfileProblem[] = [];
  /**
   * The file each symlinked jobfile was last read through, by the link's path. An edit of
   * the target raises an event for the target only, and the link must be read again too.
   */
  private readonly linkTargets = new Map<string, string>();

  /** `root` is the folder's real path, the one job sources start with. */
  constructor(readonly root: string) {}

  /** Notes where `rel` was read from (`real`, an absolute real path): a link's target, or itself. */
  readFrom(rel: string, real: string): void {
    const target = relative(this.root, real).split(sep).join("/");
    if (target === rel) this.linkTargets.delete(rel);
    else this.linkTargets.set(rel, target);
  }

  /** `rels` and every symlinked jobfile last read through one of them. */
  withLinksTo(rels: Iterable<string>): Set<string> {
    const all = new Set(rels);
    for (const [link, target] of this.linkTargets) if (all.has(target)) all.add(link);
    return all;
  }

  /** Whether a symlinked jobfile was last read through `rel`. */
  isLinkTarget(rel: string): boolean {
    for (const target of this.linkTargets.values()) if (target === rel) return true;
    return false;
  }

  sourceOf(rel: string): string {
    return join(this.root, ...rel.split("/"));
  }

  /** Ids the file declares now or declared when last read. */
  ids(rel: string): string[] {
    return idsOf(lastParsed(this.files.get(rel)));
  }

  /** Whether some known file lies under the folder `rel`. */
  hasFilesUnder(rel: string): boolean {
    const prefix = `${rel}/`;
    for (const known of this.files.keys()) if (known.startsWith(prefix)) return true;
    return false;
  }

  /**
   * When the last file being written will have settled, or null when none is. A missing
   * file is removed only after that as well: a move made as a removal and a new file (a
   * `git checkout`, a slow save elsewhere) may declare its ids in a file that is still being
   * written when the removal falls due, and read apart, the removal would cancel the jobs
   * and the new file restore them, with their attempts and backoff forgotten.
   */
  lastSettle(): number | null {
    if (this.settleKnown?.changes === this.files.changes) return this.settleKnown.last;
    let last: number | null = null;
    for (const entry of this.files.values())
      if (entry.kind === "waiting" && (last === null || entry.at > last)) last = entry.at;
    this.settleKnown = { changes: this.files.changes, last };
    return last;
  }

  /**
   * When a file missing since `since` is removed: see lastSettle. A file that never settles
   * (something rewrites it all the time) holds a removal for REMOVAL_WAIT_SETTLES settle
   * times at most, not for as long as it is written.
   */
  private removalAt(since: number, settleMs: number): number {
    const settled = Math.max(since + settleMs, this.lastSettle() ?? 0);
    return Math.min(settled, since + settleMs * REMOVAL_WAIT_SETTLES);
  }

  /** Whether a file missing since `since` may be removed now. */
  mayRemove(since: number, now: number, settleMs: number): boolean {
    return this.removalAt(since, settleMs) <= now;
  }

  /** The earliest time a waiting or missing file must be looked at again. */
  nextWake(settleMs: number): number | null {
    let next: number | null = null;
    for (const entry of this.files.values()) {
      const at =
        entry.kind === "waiting"
          ? entry.at
          : entry.kind === "missing"
            ? this.removalAt(entry.since, settleMs)
            : null;
      if (at !== null && (next === null || at < next)) next = at;
    }
    return next;
  }

  /** Files whose wake time has come: the missing ones last, after the files that may take their ids. */
  due(now: number, settleMs: number): string[] {
    const waiting: string[] = [];
    const missing: string[] = [];
    for (const [rel, entry] of this.files) {
      if (entry.kind === "waiting" && entry.at <= now) waiting.push(rel);
      if (entry.kind === "missing" && this.mayRemove(entry.since, now, settleMs)) missing.push(rel);
    }
    return [...waiting, ...missing];
  }

  /**
   * `changed` plus every file that declares one of their ids (now or before, or holds it in
   * the store), names one of them in `after`, or declares an id they name in `after`, and so
   * on until nothing is added: duplicates, moves, dependencies, cycles and jobs kept by a
   * file in error are decided across exactly these files.
   */
  affected(changed: Iterable<string>, previousIds: Iterable<string>, held: Held = NOTHING_HELD): Affected {
    const rels = new Set(changed);
    const ids = new Set(previousIds);
    const afters = new Set<string>();
    let added = [...rels];
    const add = (rel: string) => {
      if (rels.has(rel)) return;
      rels.add(rel);
      added.push(rel);
    };
    while (added.length > 0) {
      for (const rel of added) {
        const parsed = lastParsed(this.files.get(rel));
        for (const id of [...idsOf(parsed), ...(held.idsOf.get(rel) ?? [])]) ids.add(id);
        for (const id of aftersOf(parsed)) afters.add(id);
      }
      added = [];
      for (const id of ids) {
        const holder = held.fileOf.get(id);
        if (holder !== undefined) add(holder);
      }
      for (const [rel, entry] of this.files) {
        const parsed = lastParsed(entry);
        const declares = idsOf(parsed).some((id) => ids.has(id) || afters.has(id));
        if (declares || aftersOf(parsed).some((id) => ids.has(id))) add(rel);
      }
    }
    return { rels, ids };
  }

  /** Keeps the store's declarations to those of the affected files or ids. */
  scope(affected: Affected, naming: FolderNaming): (declaration: { id: string; source: string }) => boolean {
    const sources = new Set([...affected.rels].map((rel) => this.sourceOf(rel)));
    const ids = new Set([...affected.ids].map((id) => namespaced(naming.namespace, id)));
    return (declaration) => sources.has(declaration.source) || ids.has(declaration.id);
  }

  /**
   * The folder's namespace with every id its files declare, as `desiredJobsOf` wants them,
   * and those the store holds from its files that cannot be read now (heldIdsOf).
   */
  naming(namespace: string | null, held: Held): FolderNaming {
    const folderIds = new Set<string>();
    const unreadable = [...this.scanBlocked];
    for (const [rel, entry] of this.files) {
      for (const id of idsOf(lastParsed(entry))) folderIds.add(id);
      if (entry.kind !== "parsed" || entry.parsed.problems.length > 0) unreadable.push(rel);
    }
    if (namespace !== null) for (const id of heldIdsOf(held, unreadable)) folderIds.add(id);
    return { namespace, folderIds };
  }

  /** The desired state of `rels` (every known file when null), as the plan wants it. */
  desired(
    rels: Iterable<string> | null,
    defaultMaxRetries: number,
    now: number,
    naming: FolderNaming,
  ): DesiredState {
    const desired: DesiredState = {
      root: this.root,
      jobs: [],
      // Every plan sees the folders the scan refused: files under them hold their jobs.
      problems: [...this.scanProblems],
      blocked: [...this.scanBlocked],
      blockedIds: [],
      namespace: naming.namespace,
      files: [],
    };
    const inNamespace = (ids: string[]) => ids.map((id) => namespaced(naming.namespace, id));
    for (const rel of rels ?? this.files.keys()) {
      const entry = this.files.get(rel);
      if (!entry) continue; // Removed: no jobs, not blocked, so the plan cancels what it declared.
      if (entry.kind === "parsed" && entry.parsed.problems.length === 0) {
        desired.files?.push(rel);
        desired.jobs.push(
          ...desiredJobsOf(entry.parsed, { rel, source: this.sourceOf(rel) }, defaultMaxRetries, now, naming),
        );
        continue;
      }
      desired.blocked.push(rel);
      if (entry.kind === "refused") desired.problems.push(...entry.problems);
      else if (entry.kind === "parsed") {
        desired.problems.push(...entry.parsed.problems);
        desired.blockedIds.push(...inNamespace(entry.parsed.knownIds));
      } else desired.blockedIds.push(...inNamespace(idsOf(entry.last)));
    }
    return desired;
  }

  /** Remembers the plan's problems for the files it covered (all files when `rels` is null). */
  recordPlan(rels: Iterable<string> | null, planned: Plan): void {
    const byFile = new Map<string, JobfileProblem[]>();
    for (const problem of planned.errors)
      byFile.set(problem.file, [...(byFile.get(problem.file) ?? []), problem]);
    if (rels === null) this.problems.clear();
    for (const rel of rels ?? this.files.keys()) {
      const found = byFile.get(rel);
      if (found) this.problems.set(rel, found);
      else this.problems.delete(rel);
    }
  }

  /**
   * Whether the last plan refused a file. Such a refusal may hang on the store alone (an id
   * another folder owns, until it lets go of it), so it is planned again even when no file changed.
   */
  hasPlanProblems(): boolean {
    for (const rel of this.problems.keys()) if (this.files.has(rel)) return true;
    return false;
  }

  /** Every problem the folder has as far as the watcher knows, sorted by place. */
  allProblems(): JobfileProblem[] {
    const problems = [...this.scanProblems];
    for (const [rel, found] of this.problems) if (this.files.has(rel)) problems.push(...found);
    return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  }
}
