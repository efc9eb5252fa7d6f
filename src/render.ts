/**
 * Everything users read: human text (coloured only on a TTY and never under NO_COLOR) and
 * the stable `--json` shapes. No queue logic lives here.
 */

import { fstatSync, statSync } from "node:fs";
import type { Colors } from "picocolors/types";
import { configJsonValue, isWorkerLost } from "./core/config.ts";
import { formatDurationMs } from "./core/duration.ts";
import { shellWord } from "./core/errors.ts";
import type { Attempt, Job, JobState, StateCounts } from "./core/job.ts";
import { describeLimits } from "./core/resource-limits.ts";
import { safeText } from "./render/terminal-text.ts";
import type { ScheduleRecord, WorkerRecord } from "./store/store.ts";

export { isSafeText, printJson, safeText } from "./render/terminal-text.ts";

/**
 * Whether stdout (fd 1) or stderr (fd 2) is a terminal, without touching `process.stdout` or
 * `process.stderr`: in Bun either getter loads Node's stream layer, 7 to 20 ms, as much as a
 * bare Bun start, paid by every command a script runs. A pipe, a file or /dev/null is told
 * apart by fstat; only a character device other than /dev/null needs the real check.
 */
export function isTerminal(fd: 1 | 2): boolean {
  try {
    const stats = fstatSync(fd);
    if (!stats.isCharacterDevice()) return false;
    if (stats.rdev === statSync("/dev/null").rdev) return false;
  } catch {
    // No /dev/null to compare with (Windows): ask the stream.
  }
  return Boolean((fd === 1 ? process.stdout : process.stderr).isTTY);
}

/** picocolors' styles when colour is off: each returns its input as text. */
const PLAIN_COLORS = new Proxy({ isColorSupported: false } as Colors, {
  get: (target, key) => (key === "isColorSupported" ? target.isColorSupported : String),
});

/** Coloured only on a TTY and never under NO_COLOR; picocolors itself probes stdout, so it loads only then. */
export const colors: Colors =
  !process.env.NO_COLOR && isTerminal(1)
    ? (() => {
        const pc = require("picocolors") as typeof import("picocolors");
        return pc.createColors(pc.isColorSupported);
      })()
    : PLAIN_COLORS;

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** An argv command as a shell would take it back: single quotes, so `$HOME` and `*` stay words. */
export function commandText(command: string | string[]): string {
  if (typeof command === "string") return command;
  return command.map(shellWord).join(" ");
}

/** The stable JSON shape of a job, shared by `list`, `show`, `dlq list` and the API. */
export function jobJson(job: Job) {
  return {
    id: job.id,
    command: job.spec.command,
    state: job.state,
    attempts: job.attempts,
    max_retries: job.max_retries,
    priority: job.priority,
    queue: job.queue,
    tags: job.tags,
    timeout: job.spec.timeout ?? null,
    cwd: job.spec.cwd ?? null,
    env: job.spec.env ?? {},
    created_at: iso(job.created_at),
    updated_at: iso(job.updated_at),
    next_run_at: iso(job.next_run_at),
    started_at: iso(job.started_at),
    finished_at: iso(job.finished_at),
    worker_id: job.worker_id,
    lease_until: iso(job.lease_until),
    exit_code: job.exit_code,
    last_error: job.last_error,
    source: job.source,
    revision: job.revision,
    progress_pct: job.progress_pct ?? null,
    progress_message: job.progress_message ?? null,
  };
}

/** "40% copying": what the job last reported on $QUEUECTL_PROGRESS, or "" when nothing. */
export function progressText(job: Pick<Job, "progress_pct" | "progress_message">): string {
  if (job.progress_pct === null || job.progress_pct === undefined) return "";
  return safeText(`${job.progress_pct}%${job.progress_message ? ` ${job.progress_message}` : ""}`);
}

export function attemptJson(attempt: Attempt) {
  return {
    attempt: attempt.attempt,
    token: attempt.token,
    worker_id: attempt.worker_id,
    host: attempt.host,
    started_at: iso(attempt.started_at),
    finished_at: iso(attempt.finished_at),
    duration_ms: attempt.finished_at === null ? null : attempt.finished_at - attempt.started_at,
    exit_code: attempt.exit_code,
    signal: attempt.signal,
    error: attempt.error,
    stdout_bytes: attempt.stdout_bytes,
    stderr_bytes: attempt.stderr_bytes,
    revision: attempt.revision,
    ...(attempt.limits ? { limits: attempt.limits } : {}),
  };
}

/** Config values are stored as text; JSON gets numbers, lists and objects as such (see configJsonValue). */
export function configJson(values: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, configJsonValue(key, value)]));
}

/** The stable JSON shape of a schedule, shared by `schedule list` and the API. */
export function scheduleJson(schedule: ScheduleRecord) {
  return {
    id: schedule.id,
    command: schedule.spec.command,
    schedule: schedule.spec.schedule,
    timezone: schedule.spec.timezone ?? "UTC",
    catchup: schedule.spec.catchup ?? "latest",
    overlap: schedule.spec.overlap ?? "skip",
    next_run_at: iso(schedule.next_at),
    last_fired_at: iso(schedule.last_at),
    source: schedule.source,
    revision: schedule.revision,
  };
}

export function workerJson(worker: WorkerRecord, now: number, lostAfterMs: number) {
  return {
    id: worker.id,
    host: worker.host,
    pid: worker.pid,
    started_at: iso(worker.started_at),
    heartbeat_at: iso(worker.heartbeat_at),
    heartbeat_age_ms: now - worker.heartbeat_at,
    alive: !isWorkerLost(worker.heartbeat_at, now, lostAfterMs),
    stop_requested: worker.stop_requested,
    queues: worker.queues,
  };
}

const STATE_COLOR: Record<JobState, (text: string) => string> = {
  pending: colors.cyan,
  processing: colors.yellow,
  completed: colors.green,
  failed: colors.magenta,
  dead: colors.red,
  canceled: colors.gray,
};

export function stateText(state: JobState): string {
  return STATE_COLOR[state](state);
}

/** The original tool's "Found N job(s)" blocks, kept so scripts and eyes trained on it still work. */
export function jobBlocks(jobs: Job[], now: number): string {
  if (jobs.length === 0) return "No jobs found.\n";
  const lines = [`Found ${jobs.length} job(s):`, ""];
  for (const job of jobs) {
    lines.push(`${colors.bold("ID:")} ${safeText(job.id)}`);
    lines.push(`  Command: ${safeText(commandText(job.spec.command))}`);
    lines.push(`  State: ${stateText(job.state)}`);
    lines.push(`  Attempts: ${job.attempts}/${job.max_retries + 1}`);
    if (job.priority !== 0) lines.push(`  Priority: ${job.priority}`);
    if (job.queue !== "default") lines.push(`  Queue: ${safeText(job.queue)}`);
    if (job.tags.length > 0) lines.push(`  Tags: ${job.tags.map((tag) => safeText(tag)).join(", ")}`);
    lines.push(`  Created: ${iso(job.created_at)}`);
    if ((job.state === "pending" || job.state === "failed") && job.next_run_at > now) {
      lines.push(`  Next run: ${iso(job.next_run_at)} (in ${formatDurationMs(job.next_run_at - now)})`);
    }
    if (progressText(job)) lines.push(`  Progress: ${progressText(job)}`);
    if (job.exit_code !== null) lines.push(`  Exit code: ${job.exit_code}`);
    if (job.last_error) lines.push(`  Last error: ${colors.red(safeText(job.last_error))}`);
    if (job.source) lines.push(`  Source: ${safeText(job.source)}`);
    lines.push("");
  }
  return `${lines.join("\n")}`;
}

/** 100000 → "100,000": counts in footers are read, not parsed. */
export function countText(count: number): string {
  return count.toLocaleString("en-US");
}

/** Items named one by one in an error line; past this, the rest are counted. */
const NAMED_IN_ERROR = 10;

/**
 * "a, b", or past ten, "a, … j and 15 more": an error about many jobs stays one readable
 * line (500 ids made one of 14 KB).
 */
export function firstNamed(items: readonly string[]): string {
  const named = items.slice(0, NAMED_IN_ERROR).join(", ");
  return items.length <= NAMED_IN_ERROR
    ? named
    : `${named} and ${countText(items.length - NAMED_IN_ERROR)} more`;
}

/**
 * What the list's time column says: how long a running or finished job ran, how long a
 * waiting one has waited, or when a delayed one is due.
 */
export function timeText(job: Job, now: number): string {
  if (job.state === "processing" && job.started_at !== null)
    return `running ${columnDuration(now - job.started_at)}`;
  if ((job.state === "pending" || job.state === "failed") && job.next_run_at > now) {
    return `in ${columnDuration(job.next_run_at - now)}`;
  }
  if (job.state === "completed" || job.state === "dead") {
    if (job.started_at !== null && job.finished_at !== null) {
      return `took ${columnDuration(Math.max(0, job.finished_at - job.started_at))}`;
    }
  }
  const age = now - (job.finished_at ?? job.created_at);
  return age < 1000 ? "just now" : `${columnDuration(age)} ago`;
}

const HOUR_MS = 3_600_000;

/** Past two days, days and hours: a job due next year is `in 395d2h`, not `in 9482h35m`. */
function columnDuration(ms: number): string {
  if (ms < 48 * HOUR_MS) return formatDurationMs(ms);
  const hours = Math.round(ms / HOUR_MS);
  return hours % 24 ? `${Math.floor(hours / 24)}d${hours % 24}h` : `${hours / 24}d`;
}

/** The most columns `list`'s TIME cell takes on a terminal: a long progress message is cut. */
const TIME_CELL_ROOM = 36;

/** Fewer columns than this left for the command: it is shown whole rather than cut to nothing. */
const MIN_COMMAND_ROOM = 12;

/**
 * `text` as it fits in `room` terminal columns, ending in … when cut. Widths are counted as a
 * terminal shows them: a CJK character or an emoji takes two columns, and is never split.
 */
function cutToWidth(text: string, room: number | undefined): string {
  // Too little room (or a terminal reporting 0 columns): the row wraps anyway, so cut nothing.
  if (room === undefined || room < MIN_COMMAND_ROOM || Bun.stringWidth(text) <= room) return text;
  let kept = "";
  let used = 0;
  for (const { segment } of new Intl.Segmenter().segment(text)) {
    used += Bun.stringWidth(segment);
    if (used > room - 1) break;
    kept += segment;
  }
  return `${kept}…`;
}

/**
 * `list`: one aligned row per job (id, state, attempts, queue, time, command), and a
 * footer that says how many matched when not all are shown. The command comes last so it
 * never pushes the other columns; `width` (a terminal's) cuts it to fit.
 */
export function jobTable(jobs: Job[], total: number, now: number, width?: number): string {
  if (jobs.length === 0) return "No jobs found.\n";
  const header = ["ID", "STATE", "ATTEMPTS", "QUEUE", "TIME", "COMMAND"];
  const rows = jobs.map((job) => [
    safeText(job.id),
    job.state,
    `${job.attempts}/${job.max_retries + 1}`,
    safeText(job.queue),
    cutToWidth(
      [timeText(job, now), progressText(job)].filter(Boolean).join(" · "),
      width === undefined ? undefined : TIME_CELL_ROOM,
    ),
    safeText(commandText(job.spec.command)),
  ]);
  const widths = header
    .slice(0, -1)
    .map((title, column) => Math.max(title.length, ...rows.map((row) => Bun.stringWidth(row[column] ?? ""))));
  const line = (cells: string[], paint: (cell: string, column: number) => string) => {
    const fixed = cells
      .slice(0, -1)
      .map(
        (cell, column) => paint(cell, column) + " ".repeat((widths[column] ?? 0) - Bun.stringWidth(cell) + 2),
      )
      .join("");
    const room = width === undefined ? undefined : width - widths.reduce((sum, w) => sum + w + 2, 0);
    return `${fixed}${cutToWidth(cells[cells.length - 1] ?? "", room)}`.trimEnd();
  };
  const lines = [
    line(header, (cell) => colors.bold(cell)),
    ...rows.map((row, index) =>
      line(row, (cell, column) => (column === 1 ? stateText(jobs[index]?.state ?? "pending") : cell)),
    ),
  ];
  const footer =
    jobs.length < total
      ? `${countText(jobs.length)} of ${countText(total)} shown — --limit N, --all`
      : `${countText(total)} job${total === 1 ? "" : "s"}`;
  lines.push(colors.dim(footer));
  return `${lines.join("\n")}\n`;
}

/** The declared fields `jobBlocks` leaves out, for `show`: what will run, where, and for how long. */
export function specLines(job: Job): string {
  const spec = job.spec;
  const runs = job.max_retries + 1;
  const lines = [`  Max retries: ${job.max_retries} (at most ${runs} run${runs === 1 ? "" : "s"})`];
  lines.push(
    `  Timeout: ${spec.timeout === undefined ? "the job-timeout config" : formatDurationMs(spec.timeout * 1000)}`,
  );
  if (spec.run_at !== undefined) lines.push(`  Run at: ${spec.run_at}`);
  if (spec.delay !== undefined) lines.push(`  Delay: ${formatDurationMs(spec.delay)}`);
  if (spec.cwd !== undefined) lines.push(`  Working folder: ${safeText(spec.cwd)}`);
  // Names only: values are often tokens, and `show --json` has them for whoever needs them.
  if (spec.env !== undefined)
    lines.push(
      `  Environment: ${Object.keys(spec.env)
        .map((key) => safeText(key))
        .join(", ")}`,
    );
  if (spec.limits !== undefined) lines.push(`  Limits: ${describeLimits(spec.limits)}`);
  // Hosts only: a webhook's path or query often carries its secret, as env values do.
  if (spec.notify !== undefined)
    lines.push(
      `  Webhooks: ${spec.notify.map((target) => `${safeText(webhookHost(target.url))} (${target.events.join(", ")})`).join("; ")}`,
    );
  return `${lines.join("\n")}\n`;
}

function webhookHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "?";
  }
}

export function attemptLines(attempts: Attempt[]): string {
  if (attempts.length === 0) return "  (no attempts yet)\n";
  const lines = attempts.map((attempt) => {
    const duration =
      attempt.finished_at === null ? "running" : formatDurationMs(attempt.finished_at - attempt.started_at);
    const outcome =
      attempt.finished_at === null
        ? colors.yellow("running")
        : attempt.exit_code === 0 && !attempt.error
          ? colors.green("exit 0")
          : colors.red(
              [
                attempt.exit_code !== null ? `exit ${attempt.exit_code}` : "",
                attempt.signal ?? "",
                attempt.error ?? "",
              ]
                .filter(Boolean)
                .map((part) => safeText(part))
                .join(", "),
            );
    // `#` is the token, unique for the job's whole life, so it names one attempt even after
    // edits and reruns restart the try count; `logs --attempt` takes the same number.
    const revision = attempt.revision === null ? "—     " : attempt.revision.slice(0, 6);
    const line = `  #${attempt.token}  rev ${revision}  try ${attempt.attempt}  ${iso(attempt.started_at)}  ${duration.padEnd(8)}  ${outcome}  (${safeText(attempt.host)})`;
    return attempt.limits ? `${line}\n      limits: ${safeText(attempt.limits)}` : line;
  });
  return `${lines.join("\n")}\n`;
}

export function countsBlock(counts: StateCounts): string {
  const rows: [string, number][] = [
    ["pending", counts.pending],
    ["processing", counts.processing],
    ["completed", counts.completed],
    ["failed", counts.failed],
    ["dead", counts.dead],
    ["canceled", counts.canceled],
    ["total", counts.total],
  ];
  return rows.map(([name, count]) => `  ${name.padEnd(15)} ${count}`).join("\n");
}

export function scheduleLines(schedules: ScheduleRecord[]): string {
  return schedules
    .map(
      (s) =>
        `${colors.bold(safeText(s.id))}  ${safeText(s.spec.schedule ?? "")}${s.spec.timezone ? ` (${safeText(s.spec.timezone)})` : ""}  next: ${iso(s.next_at) ?? "never"}\n  Command: ${safeText(commandText(s.spec.command))}`,
    )
    .join("\n");
}
