/**
 * Jobs that talk back: each attempt's report files sit in `$QUEUECTL_HOME/reports/`, named by
 * the id's hash and the token like its logs, and the job finds them through its environment:
 *
 * - `QUEUECTL_PROGRESS`: a file the job overwrites with `<percent> <message>`, e.g.
 *   `echo "40 copying" > "$QUEUECTL_PROGRESS"`. The worker reads it every PROGRESS_POLL_MS and
 *   once at the end, and stores what changed. A line that does not parse is ignored.
 * - `QUEUECTL_RESULT`: a file the job may write one JSON value to, at most RESULT_CAP_BYTES.
 *   Read once when the attempt ends, and stored before the attempt is recorded, so a
 *   dependent job never starts before its dependency's result is there. A result over the cap
 *   or not JSON is not stored; the attempt's error says why.
 * - `QUEUECTL_DEP_RESULTS` (only for a job with `after`): a folder holding `<NAME>.json` per dependency (`after`) that left a
 *   result, and `QUEUECTL_RESULT_<NAME>` holding the same JSON while it is small (see
 *   dependencyResultNames for NAME).
 *
 * Everything here is best effort: a job's bad report never stops the job or the worker.
 */

import { isUtf8 } from "node:buffer";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import type { Job } from "../core/job.ts";
import { overResultCap, RESULT_CAP_BYTES, resultTextProblem } from "../core/json-text.ts";
import type { ProgressUpdate, RunResult, Store } from "../store/store.ts";
import { attemptLogBase } from "./log-files.ts";
import { PeriodicService } from "./service.ts";

/** Largest result stored (64 KiB); a larger one is not stored and the attempt notes it. */
export { RESULT_CAP_BYTES };

/** White space around a result is set aside, and not counted against the cap, up to this much. */
const RESULT_SPACE_BYTES = 1024;
/** How often a worker reads the progress files of its running jobs. */
export const PROGRESS_POLL_MS = 1_000;
/** A progress message is cut to this many characters. */
const PROGRESS_MESSAGE_CHARS = 200;
/** Only the end of a progress file is read; its last line counts. */
const PROGRESS_READ_BYTES = 4 * 1024;
/** A dependency's result also travels as an environment variable up to this size. */
const RESULT_ENV_MAX_BYTES = 16 * 1024;
/** All such variables of one job together stay under this, well inside the kernel's limit. */
const RESULT_ENV_TOTAL_BYTES = 256 * 1024;

/** Report folders this process already made: a claim checks the disk only once per home. */
const madeFolders = new Set<string>();

export interface Progress {
  pct: number;
  message: string | null;
}

/**
 * `40 copying`, `40% copying`, `40`, `12.5 % half way` → a percentage (floored, 0–100) and a
 * message; the last non-blank line counts, so appending works as well as overwriting.
 * Anything else is null, and is ignored.
 */
export function parseProgress(text: string): Progress | null {
  // A carriage return ends a line too: tools that redraw one line (rsync, curl) write that.
  const line = text
    .split(/\r\n|\n|\r/)
    .map((entry) => entry.trim())
    .filter(Boolean)
    .pop();
  const match = line?.match(/^(\d{1,3}(?:\.\d+)?)\s*%?(?:\s+(.*))?$/);
  if (!match) return null;
  const pct = Math.floor(Number(match[1]));
  if (!(pct >= 0 && pct <= 100)) return null;
  // Control characters would reach terminals through `list` and `show`.
  const message = (match[2] ?? "")
    .replace(/\p{Cc}/gu, " ")
    .trim()
    .slice(0, PROGRESS_MESSAGE_CHARS)
    // Not half of a character: the cut may fall inside an emoji's surrogate pair.
    .replace(/[\uD800-\uDBFF]$/, "");
  return { pct, message: message === "" ? null : message };
}

/**
 * The NAME of each dependency: its id in upper case with every other character than A–Z and
 * 0–9 turned into `_` (`build-1` → `BUILD_1`). Ids that come out the same get `_2`, `_3` …
 * in `after` order, so no two dependencies share a name.
 */
export function dependencyResultNames(ids: string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const id of ids) {
    // Per character, not per UTF-16 unit: an emoji is one `_`, as the README says.
    const base = id.toUpperCase().replace(/[^A-Z0-9]/gu, "_");
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    names.set(id, name);
  }
  return names;
}

/**
 * Whether anything is at `path` (a symlink counts, even a dangling one). Asked first so that
 * the usual case, a job that wrote no report, costs one lstat and no thrown error: each
 * failed open or unlink builds an exception, and a worker of short jobs paid four per job.
 * When the answer is unknown (a job made the folder unreadable), the reads and removals
 * that follow are tried anyway; they fail quietly.
 */
function isPresent(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

/** What is at `path`: a regular file, something else (a dangling link too), or nothing that can be told. */
function kindAt(path: string): "file" | "other" | null {
  try {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    return stats === undefined ? null : stats.isFile() ? "file" : "other";
  } catch {
    return null;
  }
}

/**
 * Reads at most `limit` bytes from the end (`fromEnd`) or the start of a regular file; null
 * when there is none. O_NONBLOCK: a FIFO a job left in its place must not hang the worker.
 * O_NOFOLLOW: a link is no report, whatever it points at.
 */
function readRegularFile(
  path: string,
  limit: number,
  fromEnd: boolean,
): { text: string; bytes: Buffer; size: number } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return null;
    const length = Math.min(limit, stat.size);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, fromEnd ? stat.size - length : 0);
    const bytes = buffer.subarray(0, read);
    return { text: bytes.toString("utf8"), bytes, size: stat.size };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** What an attempt left in its result file: JSON text to store, or a note on why nothing is. */
export function readResult(path: string): { result: string | null; note: string | null } {
  const file = readRegularFile(path, RESULT_CAP_BYTES + RESULT_SPACE_BYTES + 1, false);
  if (file === null) {
    // Something the job put there that is no file (a FIFO, a folder, a dangling link), or a
    // file the worker may not read, is said so; a path that cannot be looked at (its folder
    // replaced) is taken as no result.
    const kind = kindAt(path);
    const note =
      kind === "file"
        ? "result not stored: $QUEUECTL_RESULT cannot be read"
        : kind === "other"
          ? "result not stored: $QUEUECTL_RESULT is not a regular file"
          : null;
    return { result: null, note };
  }
  const notStored = (problem: string) => ({
    result: null,
    note: `result not stored: $QUEUECTL_RESULT ${problem}`,
  });
  if (file.size > RESULT_CAP_BYTES + RESULT_SPACE_BYTES) return notStored(overResultCap(file.size));
  // JSON is UTF-8: bytes that are not would be stored, and handed on, changed (as U+FFFD).
  if (!isUtf8(file.bytes)) return notStored("is not UTF-8 text, as JSON must be");
  const text = file.text.trim();
  if (text === "") return { result: null, note: null };
  const problem = resultTextProblem(text);
  if (problem !== null) return notStored(problem);
  return { result: text, note: null };
}

/** One attempt's report folder, from the claim until its outcome is recorded. */
export class JobReports {
  /** What this attempt reported last, or the stored value it will replace. */
  private sent: string;
  private current: Progress | null = null;

  private constructor(
    readonly env: Record<string, string>,
    private readonly job: Job,
  ) {
    this.sent = progressKey(job.progress_pct ?? null, job.progress_message ?? null);
  }

  /**
   * Names the report files of a claimed job. Nothing is created for a job without
   * dependencies: the job's own write creates its file, so a job that reports nothing costs
   * the worker one folder check per process and two lstats at its end. Null when the folder
   * cannot be made; the job then runs without these variables.
   */
  static async open(params: { store: Store; home: string; job: Job }): Promise<JobReports | null> {
    const { job } = params;
    const folder = join(params.home, "reports");
    const base = join(folder, basename(attemptLogBase(job.id, job.token)));
    const env: Record<string, string> = {
      QUEUECTL_PROGRESS: `${base}.progress`,
      QUEUECTL_RESULT: `${base}.result`,
    };
    const after = job.spec.after ?? [];
    try {
      // Results are job output: only the owner may read them, as with logs.
      if (!madeFolders.has(folder)) {
        mkdirSync(folder, { recursive: true, mode: 0o700 });
        madeFolders.add(folder);
      }
      if (after.length > 0) {
        env.QUEUECTL_DEP_RESULTS = `${base}.dependencies`;
        mkdirSync(env.QUEUECTL_DEP_RESULTS, { recursive: true, mode: 0o700 });
      }
    } catch {
      return null;
    }
    if (after.length > 0) {
      const names = dependencyResultNames(after);
      let envBytes = 0;
      for (const { id, result } of await params.store.jobResults({ ids: after })) {
        const name = names.get(id);
        if (result === null || name === undefined) continue;
        writeFileSync(join(env.QUEUECTL_DEP_RESULTS as string, `${name}.json`), result, { mode: 0o600 });
        const bytes = Buffer.byteLength(result);
        if (bytes <= RESULT_ENV_MAX_BYTES && envBytes + bytes <= RESULT_ENV_TOTAL_BYTES) {
          env[`QUEUECTL_RESULT_${name}`] = result;
          envBytes += bytes;
        }
      }
    }
    return new JobReports(env, job);
  }

  /**
   * The progress to store when it changed since the last one stored, else null. `written`:
   * whether the job made its progress file, when the caller knows already.
   */
  progressUpdate(written?: boolean): ProgressUpdate | null {
    const path = this.env.QUEUECTL_PROGRESS as string;
    const file = (written ?? isPresent(path)) ? readRegularFile(path, PROGRESS_READ_BYTES, true) : null;
    const parsed = file === null ? null : parseProgress(file.text);
    // An empty or half-written file keeps the last good value.
    if (parsed !== null) this.current = parsed;
    const pct = this.current?.pct ?? null;
    const message = this.current?.message ?? null;
    const key = progressKey(pct, message);
    if (key === this.sent) return null;
    return { id: this.job.id, token: this.job.token, pct, message };
  }

  /** Marks an update as stored. */
  saved(update: ProgressUpdate): void {
    this.sent = progressKey(update.pct, update.message);
  }

  /**
   * After the process exited: stores the last progress and the result (fenced, so a lost
   * attempt stores nothing) and removes the folder. Returns a note for the attempt's error
   * when the result could not be stored.
   */
  async finish(store: Store, handedBack = false): Promise<string | null> {
    const files = [this.env.QUEUECTL_PROGRESS as string, this.env.QUEUECTL_RESULT as string];
    const [progressFile, resultFile] = files as [string, string];
    const written = files.filter(isPresent);
    let stored = false;
    try {
      // A run handed back is not counted: the job keeps the result it had, as before the claim.
      if (handedBack) return null;
      const update = this.progressUpdate(written.includes(progressFile));
      if (update) {
        stored = true;
        await store.jobProgressSave({ updates: [update] });
      }
      const { result, note } = written.includes(resultFile)
        ? readResult(resultFile)
        : { result: null, note: null };
      // Saved even when null if an earlier attempt left one, so a retry that writes no result
      // does not keep the older attempt's; a job that never wrote one costs no write.
      if (result !== null || (this.job.result ?? null) !== null) {
        stored = true;
        await store.jobResultSave({ id: this.job.id, token: this.job.token, result });
      }
      return note;
    } finally {
      // While the store was written, a process that left the job's group may have made one.
      for (const file of stored ? files.filter(isPresent) : written) {
        try {
          // A folder the job made in the file's place goes too: these names are the worker's,
          // in its own reports folder, and an attempt's leftovers would pile up. A symlink is
          // removed, never followed.
          rmSync(file, { recursive: true, force: true });
        } catch {
          // Gone since, or the folder is read-only now.
        }
      }
      if (this.env.QUEUECTL_DEP_RESULTS !== undefined) {
        rmSync(this.env.QUEUECTL_DEP_RESULTS, { recursive: true, force: true });
      }
    }
  }
}

/** A claimed job's report files; without them (disk full, store error) the job still runs. */
export function openReports(
  store: Store,
  home: string,
  job: Job,
  onError: (message: string) => void,
): Promise<JobReports | null> {
  return JobReports.open({ store, home, job }).catch((error) => {
    onError(`job ${job.id}: cannot prepare its report files: ${(error as Error).message}`);
    return null;
  });
}

/**
 * Stores an attempt's last progress and its result before its outcome is recorded; a note
 * (a result not stored) rides on the run's result, so it lands on the attempt. The start and
 * the end (`endedAt`, read as the run ended) ride too, by the store's clock, not by this
 * host's: the outcome's write may come much later, behind a locked store or a shared round.
 */
export async function finishReports(
  slot: { reports?: JobReports | null; startedAt: number; releaseReason?: string | null },
  store: Store,
  result: RunResult,
  endedAt: number,
): Promise<RunResult> {
  let note: string | null;
  try {
    note = (await slot.reports?.finish(store, (slot.releaseReason ?? null) !== null)) ?? null;
  } catch (error) {
    note = `result not stored: ${(error as Error).message}`;
  }
  // Whole milliseconds: the store's clock carries a fractional offset, and columns are integers.
  const times = { startedAt: Math.round(slot.startedAt), finishedAt: Math.round(endedAt) };
  return { ...result, ...times, ...(note === null ? {} : { note }) };
}

function progressKey(pct: number | null, message: string | null): string {
  return JSON.stringify([pct, message]);
}

/** Reads every running job's progress file and stores what changed, in one write. */
export function progressService(params: {
  store: Store;
  running: () => (JobReports | null)[];
  onError: (error: unknown) => void;
}): PeriodicService {
  return new PeriodicService({
    intervalMs: () => PROGRESS_POLL_MS,
    onError: params.onError,
    async tick() {
      const changed = params.running().flatMap((reports) => {
        const update = reports?.progressUpdate();
        return reports && update ? [{ reports, update }] : [];
      });
      if (changed.length === 0) return;
      await params.store.jobProgressSave({ updates: changed.map((entry) => entry.update), skipLocked: true });
      for (const { reports, update } of changed) reports.saved(update);
    },
  });
}
