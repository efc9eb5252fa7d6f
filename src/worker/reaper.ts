/**
 * One long-lived reaper process per worker: it makes sure a job never outlives its worker,
 * even a worker ended by SIGKILL, so a rescued job never runs twice at once.
 *
 * The reaper reads a pipe whose only write end is in the worker. The worker records
 * `+ <pgid>` right after it starts a job (every job leads its own process group) and
 * `- <pgid>` once it has killed what was left of that group, in the reaper's journal
 * (reaper-journal.ts), a file the reaper reads only at the end, so that recording a job
 * wakes nobody. When the pipe reaches EOF, which the kernel guarantees however the worker
 * ended, the reaper applies the journal and SIGKILLs every group still recorded. Jobs also
 * carry QUEUECTL_REAPER=<tag>.<n> in their environment, unique to the attempt, and after an
 * unclean end the reaper also kills every process whose entry starts with its tag: that
 * covers the few microseconds between a job's start and its `+` line, and processes that
 * left their job's group with setsid. The worker itself uses the whole entry to find one
 * stopped attempt's processes (run.ts).
 *
 * Lines go down the pipe instead when the journal cannot be used (no temporary folder, a
 * full disk), and when it is emptied: the live groups first, so the reaper holds them
 * before the file's lines are dropped (see AWK).
 *
 * It replaced a guard shell forked inside every job's group (about 0.4 ms of fork and
 * exec per job). The reaper leads its own session and ignores SIGTERM, SIGINT and SIGHUP,
 * so a signal meant for the worker (its terminal, its process group) leaves it watching;
 * if it dies anyway the worker starts another and hands it the live groups.
 */

import { closeSync, writeSync } from "node:fs";
import { randomHex } from "../core/random-hex.ts";
import { ReaperJournal } from "./reaper-journal.ts";

/** How long a `-` line may wait for a `+` to travel with (a pgid is not reused that soon). */
const FORGET_DELAY_MS = 50;
/** How soon a full pipe is tried again. */
const FULL_PIPE_RETRY_MS = 5;
/** The largest write a pipe takes whole or not at all (Linux, and POSIX's minimum is 512). */
const PIPE_BUF = 4096;

/** Set in every job's environment: the reaper's last resort after the worker died. */
export const REAPER_ENV = "QUEUECTL_REAPER";
/** Between the worker's tag and the attempt's number: not hex, so one tag never ends inside another. */
const ATTEMPT_SEPARATOR = ".";

/**
 * Lines end with ` .`, so a cut-short line is ignored. A snapshot, `r`, the live groups and
 * `c`, replaces the groups only once it arrived whole: a worker that dies while it is in
 * the pipe (it may take several writes) leaves the groups as they were, and the journal,
 * emptied only after the whole snapshot went, still holds every line since. `x`: no
 * journal to read. `q` marks a clean exit: the worker stopped its jobs itself, so the /proc
 * scan is skipped. The journal is read from descriptor 4 with `cat`, which needs no /proc.
 */
const AWK = [
  'function apply(op, pgid) { if (op == "+") groups[pgid] = 1; else if (op == "-") delete groups[pgid] }',
  'staging && $3 == "." { if ($1 == "+") stage[$2] = 1; next }',
  '$3 == "." { apply($1, $2); next }',
  '$1 == "r" { staging = 1; for (g in stage) delete stage[g]; next }',
  '$1 == "c" { for (g in groups) delete groups[g]; for (g in stage) groups[g] = 1; staging = 0; next }',
  '$1 == "x" { nojournal = 1; next }',
  '$1 == "q" { clean = 1; next }',
  "END {",
  '  if (!nojournal) while (("cat <&4" | getline line) > 0) if (split(line, f, " ") == 3 && f[3] == ".") apply(f[1], f[2])',
  '  list = ""; for (g in groups) list = list " -" g',
  '  if (list != "") system("kill -KILL" list " 2>/dev/null")',
  '  if (!clean) system("eval \\"$SCAN\\"")',
  "}",
].join("\n");

/**
 * Every process still marked with this worker's tag (any attempt's entry starts with it),
 * and its group. The pattern is built here, so the reaper's own environment (TAG=…) does
 * not match it.
 */
const SCAN = `for e in $(grep -lsF "${REAPER_ENV}=$TAG" /proc/[0-9]*/environ); do p=\${e#/proc/}; p=\${p%/environ}; kill -KILL -"$p" "$p" 2>/dev/null; done`;

// Ignored signals survive exec, so awk inherits them; its stdin is the pipe (fd 3).
const SCRIPT = `trap "" TERM INT HUP; exec awk '${AWK.replaceAll("'", "'\\''")}' <&3 3<&- >/dev/null 2>&1`;

export class Reaper {
  /** Unique to this worker. */
  private readonly tag = randomHex(8);
  /** Numbers this worker's attempts: a job's own token repeats across jobs. */
  private attempts = 0;
  private readonly groups = new Set<number>();
  private fd: number | null = null;
  private journal: ReaperJournal | null = null;
  private child: Bun.Subprocess | null = null;
  private closed = false;
  /** `-` lines waiting for the next `+` or FORGET_DELAY_MS. */
  private forgotten = "";
  /** Lines a full pipe refused, in order. */
  private unsent = "";
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.spawn();
  }

  /** The environment entry of this worker's processes that its reaper finds after it died. */
  get envEntry(): Record<string, string> {
    return { [REAPER_ENV]: this.tag };
  }

  /**
   * A new attempt's environment entry, `NAME=value`: the reaper's scan still finds it by this
   * worker's tag, and the whole entry names this attempt's processes alone (pidsWithEnvEntry).
   */
  attemptMark(): { name: string; value: string; entry: string } {
    this.attempts += 1;
    const value = `${this.tag}${ATTEMPT_SEPARATOR}${this.attempts}`;
    return { name: REAPER_ENV, value, entry: `${REAPER_ENV}=${value}` };
  }

  /** Call at once after the job's leader started: from here its group dies with the worker. */
  watch(pgid: number): void {
    this.groups.add(pgid);
    const lines = `${this.forgotten}+ ${pgid} .\n`;
    this.forgotten = "";
    this.record(lines);
  }

  /**
   * Call right after the group was killed. The line rides with the next `+` (each write
   * wakes the reaper) or goes within FORGET_DELAY_MS: the kernel hands out pids in order,
   * so the group's pgid is not reused within that time.
   */
  forget(pgid: number): void {
    if (!this.groups.delete(pgid)) return;
    this.forgotten += `- ${pgid} .\n`;
    this.flushLater(FORGET_DELAY_MS);
  }

  /** A clean exit: kills any group still recorded (normally none) and lets the reaper exit. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.send("q\n");
    this.release();
  }

  private spawn(): void {
    this.journal = ReaperJournal.create(this.tag);
    let child: Bun.Subprocess;
    try {
      child = Bun.spawn(["/bin/sh", "-c", SCRIPT], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TAG: this.tag, SCAN },
        stdio: ["ignore", "ignore", "ignore", "pipe", this.journal?.readFd ?? "ignore"],
        detached: true,
      });
    } finally {
      // The reaper holds its own copy of the read end; a failed start leaves no journal open.
      this.journal?.closeReadEnd();
    }
    this.child = child;
    this.fd = child.stdio[3] as unknown as number;
    if (!this.journal) this.send("x\n");
    // The worker exits when its work is done, not when the reaper does.
    child.unref();
    child.exited.then(() => {
      if (this.child !== child || this.closed) return;
      // Killed by someone: the groups are unguarded until a new reaper knows them.
      this.release();
      this.unsent = "";
      this.forgotten = "";
      this.spawn();
      this.send(this.liveGroups());
    });
  }

  /** Into the journal, or down the pipe once there is none. */
  private record(lines: string): void {
    if (!this.journal) {
      this.send(lines);
      return;
    }
    if (!this.journal.append(lines)) {
      this.leaveJournal();
      return;
    }
    // Emptied only once the live groups are in the pipe: a full one makes it wait for a later line.
    if (!this.journal.full || this.unsent !== "") return;
    this.send(`r\n${this.liveGroups()}c\n`);
    if (this.unsent === "" && !this.journal.empty()) this.leaveJournal();
  }

  /** The journal failed: the live groups (the failed line's own among them) go down the pipe from now on. */
  private leaveJournal(): void {
    this.journal?.close();
    this.journal = null;
    this.send(`r\n${this.liveGroups()}c\nx\n`);
  }

  private liveGroups(): string {
    let lines = "";
    for (const pgid of this.groups) lines += `+ ${pgid} .\n`;
    return lines;
  }

  private send(line: string): void {
    this.unsent += line;
    this.flush();
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.forgotten !== "") {
      const lines = this.forgotten;
      this.forgotten = "";
      this.record(lines);
    }
    if (this.fd === null || this.unsent === "") return;
    try {
      while (this.unsent !== "") {
        // Whole lines, at most PIPE_BUF bytes a write: the kernel then writes all of it or
        // nothing, so the reaper never reads half a pgid. The lines are ASCII.
        const end =
          this.unsent.length <= PIPE_BUF
            ? this.unsent.length
            : this.unsent.lastIndexOf("\n", PIPE_BUF - 1) + 1;
        writeSync(this.fd, this.unsent.slice(0, end));
        this.unsent = this.unsent.slice(end);
      }
    } catch (error) {
      // The pipe is non-blocking: a reaper starved of CPU can leave it full. Keep the lines.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") {
        // The reaper is gone; its exit handler starts another and replays the groups.
        this.unsent = "";
        return;
      }
    }
    if (this.unsent !== "") this.flushLater(FULL_PIPE_RETRY_MS);
  }

  private flushLater(ms: number): void {
    if (this.flushTimer || this.fd === null) return;
    this.flushTimer = setTimeout(() => this.flush(), ms);
    this.flushTimer.unref();
  }

  private release(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.journal?.close();
    this.journal = null;
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    this.fd = null;
  }
}
