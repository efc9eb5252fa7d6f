/**
 * How a foreground worker (`worker run`, and the logs of `worker start`) reports what it
 * does: one timestamped line per event, with user text escaped before colours are added.
 */

import { formatDurationMs } from "../core/duration.ts";
import { RepeatedLines } from "../core/repeated-lines.ts";
import { colors, iso, isSafeText, safeText } from "../render.ts";
import type { WorkerEvent } from "../worker/events.ts";

type FinishedEvent = Extract<WorkerEvent, { type: "job-finished" }>;

function describeFinished(event: FinishedEvent): string {
  const took = formatDurationMs(event.durationMs);
  const why = event.error ? ` (${event.error})` : "";
  switch (event.outcome) {
    case "completed":
      return `${event.jobId}: ${colors.green("completed")} in ${took}`;
    case "failed":
      return `${event.jobId}: attempt ${event.attempt} ${colors.magenta("failed")}${why}; retry at ${iso(event.nextRunAt)}`;
    case "dead":
      return `${event.jobId}: attempt ${event.attempt} ${colors.red("failed")}${why}; no retries left, moved to the DLQ`;
    case "released":
      if (event.because === "jobfile-completed")
        return `${event.jobId}: stopped after ${took}; not run again: ${BACK_TO_COMPLETED}`;
      if (event.because === "jobfile-removed")
        return `${event.jobId}: stopped after ${took}; not run again: its jobfile was removed, so the job is canceled`;
      return `${event.jobId}: stopped after ${took} and returned to pending (attempt not counted)`;
    case "discarded":
      if (event.canceled !== null)
        return `${event.jobId}: result discarded; the job was canceled while it ran (${event.canceled})`;
      return `${event.jobId}: result discarded, a newer attempt owns the job (its lease was lost)`;
    case "canceled":
      if (event.because === "jobfile-removed")
        return `${event.jobId}: attempt ${event.attempt} ${colors.red("failed")}${why}; not retried: its jobfile was removed, so the job is canceled`;
      return `${event.jobId}: attempt ${event.attempt} ${colors.yellow("killed")} after ${took}; the job is canceled`;
    case "replaced":
      if (event.because === "jobfile-completed")
        return `${event.jobId}: attempt ${event.attempt} ended${why}; not retried: ${BACK_TO_COMPLETED}`;
      return `${event.jobId}: attempt ${event.attempt} ended${why}; its jobfile changed while it ran, so the new revision is pending in its place`;
    case "abandoned":
      return `${event.jobId}: attempt ${event.attempt} ended, but its result could not be recorded before its lease ran out; given up`;
  }
}

const BACK_TO_COMPLETED = "its jobfile went back to a revision that completed, which the job shows again";

const RESCUE_OUTCOME = {
  failed: "will retry",
  dead: "no retries left, moved to the DLQ",
  canceled: "it was being killed, so it is canceled",
  replaced: "its jobfile changed while it ran, so the new revision is pending in its place",
};

type RescuedEvent = Extract<WorkerEvent, { type: "rescued" }>;

function describeRescued(event: RescuedEvent): string {
  const outcome =
    event.because === "jobfile-removed"
      ? "not retried: its jobfile was removed, so it is canceled"
      : event.because === "jobfile-completed"
        ? `not retried: ${BACK_TO_COMPLETED}`
        : RESCUE_OUTCOME[event.outcome];
  return `${event.jobId}: rescued from worker ${event.fromWorker ?? "?"} whose lease expired; ${outcome}`;
}

function describe(event: WorkerEvent): string {
  switch (event.type) {
    case "started":
      return `worker ${event.workerId} started (pid ${event.pid}, concurrency ${event.concurrency}, queues: ${event.queues?.join(", ") ?? "all"})`;
    case "job-started":
      return `${event.jobId}: attempt ${event.attempt}/${event.maxAttempts} started${event.pid ? ` (pid ${event.pid})` : ""}`;
    case "job-finished":
      return describeFinished(event);
    case "rescued":
      return describeRescued(event);
    case "lease-lost":
      return `${event.jobId}: lease lost to another worker; stopping it`;
    case "canceled-while-running":
      return `${event.jobId}: canceled while it ran (${event.reason}); stopping it`;
    case "occurrence-exists":
      return `${event.jobId}: occurrence of schedule ${event.scheduleId} skipped: a job with this id already exists`;
    case "superseded":
      return `${event.jobId}: claimed again after its lease was lost; stopping attempt ${event.attempt} first`;
    case "killing":
      return `${event.jobId}: kill requested${event.retry ? " (--retry)" : ""}; stopping it`;
    case "record-retry":
      return `${event.jobId}: recording the result failed (${event.error}); retrying in ${formatDurationMs(event.waitMs)} while the lease holds`;
    case "stopping":
      if (event.reason === "drained")
        return drainedLine(event.waitingInPaused ?? 0, event.pausedQueues ?? []);
      return `${event.reason === "requested" ? "stop requested (worker stop --all)" : "stopping"}: no new jobs${event.running > 0 ? `; waiting for ${event.running} running job(s) to finish (signal again to stop them now)` : ""}`;
    case "escalating":
      return `stopping ${event.running} running job(s) now; they go back to pending`;
    case "config-changed":
      return `config changed: ${event.summary}`;
    case "error":
      return `error: ${event.message}`;
    case "stopped":
      return `worker ${event.workerId} stopped`;
  }
}

/**
 * Ids, errors and queue names come from users and jobs: escaped before colours are added.
 * Two lines a job: an event with no list in it (a job's start and end) is used as it is when
 * nothing in it needs escaping.
 */
function sanitized(event: WorkerEvent): WorkerEvent {
  let copy: Record<string, unknown> | null = null;
  for (const key in event) {
    const value = (event as Record<string, unknown>)[key];
    if (typeof value === "string" && !isSafeText(value)) {
      copy ??= { ...event };
      copy[key] = safeText(value);
    } else if (Array.isArray(value)) {
      copy ??= { ...event };
      copy[key] = value.map((item) => safeText(String(item)));
    }
  }
  return (copy ?? event) as WorkerEvent;
}

/** Errors a worker repeats (every service, every second, while its store is out of reach). */
const repeatedErrors = new RepeatedLines((line) => process.stderr.write(`${stamped(line)}\n`));

function stamped(line: string): string {
  return `${colors.dim(new Date().toISOString())} ${line}`;
}

/** One line per event, timestamped: errors to stderr (a repeated one folded), the rest to stdout. */
export function printWorkerEvent(event: WorkerEvent): void {
  const text = describe(sanitized(event));
  if (event.type === "error") repeatedErrors.print(text);
  else process.stdout.write(`${stamped(text)}\n`);
}

/** Jobs a paused queue still holds are named, with the command that lets them run. */
function drainedLine(jobs: number, queues: string[]): string {
  if (jobs === 0) return "no pending, failed or processing jobs left; exiting";
  const which = `queue${queues.length > 1 ? "s" : ""} ${queues.join(", ")}`;
  return `no jobs left that can run; exiting (${jobs} wait in paused ${which}: queuectl queue resume ${queues[0]})`;
}
