/**
 * Schedule arithmetic, pure: `now` is always passed in, so tests drive the clock. Each
 * occurrence becomes a job whose id is derived from the schedule id and the occurrence
 * time, so hosts, restarts and two watchers can never enqueue one occurrence twice.
 */

import type { Cron } from "croner";
import type { JobSpec } from "./spec.ts";

/** An occurrence later than this counts as missed, and `catchup: none` drops it. */
export const MISSED_AFTER_MS = 60_000;
/** `catchup: all` enqueues at most this many missed occurrences in one go. */
export const MAX_CATCHUP = 100;

export function occurrenceId(scheduleId: string, at: number): string {
  return `${scheduleId}@${new Date(at).toISOString()}`;
}

function cronOf(spec: JobSpec): Cron {
  // Loaded on first use: most commands never read a schedule, and croner's start-up cost shows.
  const { Cron: CronPattern } = require("croner") as typeof import("croner");
  return new CronPattern(spec.schedule ?? "", { paused: true, timezone: spec.timezone });
}

/** The first occurrence strictly after `after`, or null when the pattern never fires again. */
export function nextOccurrence(spec: JobSpec, after: number): number | null {
  const next = cronOf(spec).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

export interface DueOccurrences {
  /** Occurrence times to enqueue now, oldest first. */
  runAt: number[];
  /** Occurrences passed over under the catch-up policy. */
  skipped: number;
  /** When the schedule is due next, or null if never. */
  nextAt: number | null;
}

/**
 * What a schedule owes at `now`, given that `nextAt` is the first occurrence not yet handled.
 * `latest` (the default) runs only the most recent missed occurrence, `all` runs each one
 * (up to MAX_CATCHUP), `none` runs an occurrence only if it is not yet MISSED_AFTER_MS late.
 */
export function dueOccurrences(spec: JobSpec, nextAt: number, now: number): DueOccurrences {
  if (nextAt > now) return { runAt: [], skipped: 0, nextAt };
  const cron = cronOf(spec);
  const owed: number[] = [nextAt];
  let cursor = nextAt;
  let total = 1;
  for (;;) {
    const next = cron.nextRun(new Date(cursor));
    if (!next || next.getTime() > now) break;
    cursor = next.getTime();
    total++;
    owed.push(cursor);
    // Keep memory bounded when a schedule was idle for years: only the tail can matter.
    if (owed.length > MAX_CATCHUP) owed.shift();
  }
  const following = cron.nextRun(new Date(Math.max(cursor, now)));
  const nextDue = following ? following.getTime() : null;
  const catchup = spec.catchup ?? "latest";
  let runAt: number[];
  if (catchup === "all") runAt = owed;
  else if (catchup === "none") runAt = owed.filter((at) => now - at <= MISSED_AFTER_MS).slice(-1);
  else runAt = owed.slice(-1);
  return { runAt, skipped: total - runAt.length, nextAt: nextDue };
}

/** The spec of one occurrence: the schedule's spec without its scheduling fields. */
export function occurrenceSpec(spec: JobSpec, at: number): JobSpec {
  const { schedule: _schedule, timezone: _timezone, catchup: _catchup, overlap: _overlap, ...rest } = spec;
  return { ...rest, id: occurrenceId(spec.id, at) };
}
