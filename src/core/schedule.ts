/**
 * Schedule arithmetic, pure: `now` is always passed in, so tests drive the clock. Each
 * occurrence becomes a job whose id is derived from the schedule id and the occurrence
 * time, so hosts, restarts and two watchers can never enqueue one occurrence twice.
 */

import type { Cron } from "croner";
import { occurrenceId } from "./occurrence-id.ts";
import type { JobSpec } from "./spec.ts";

export { occurrenceId };

/** An occurrence later than this counts as missed, and `catchup: none` drops it. */
export const MISSED_AFTER_MS = 60_000;
/** `catchup: all` enqueues at most this many missed occurrences in one go. */
export const MAX_CATCHUP = 100;

/** Schedules without a `timezone` run in UTC, whatever zone the host is set to. */
const DEFAULT_ZONE = "UTC";

function zoneOf(spec: JobSpec): string {
  return spec.timezone ?? DEFAULT_ZONE;
}

function cronOf(spec: JobSpec): Cron {
  // Loaded on first use: most commands never read a schedule, and croner's start-up cost shows.
  const { Cron: CronPattern } = require("croner") as typeof import("croner");
  return new CronPattern(spec.schedule ?? "", { paused: true, timezone: zoneOf(spec) });
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();

/** How far the zone's wall clock is ahead of UTC at `at`, in ms (negative west of Greenwich). */
function utcOffsetMs(zone: string, at: number): number {
  let format = wallClocks.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    wallClocks.set(zone, format);
  }
  const field: Record<string, number> = {};
  for (const part of format.formatToParts(at)) field[part.type] = Number(part.value);
  const wall = Date.UTC(
    field.year ?? 0,
    (field.month ?? 1) - 1,
    field.day ?? 1,
    field.hour ?? 0,
    field.minute ?? 0,
    field.second ?? 0,
  );
  return wall - Math.floor(at / 1000) * 1000;
}

/**
 * Far enough back to be before any change of offset that can still repeat a wall time
 * now: a clock turned back by Δ repeats wall times for Δ, and no zone turns it back by a day.
 */
const OFFSET_LOOKBACK_MS = 48 * 3_600_000;

/**
 * When the wall time at `at` already happened once, earlier, because the clocks went back
 * in between (the UTC offset dropped by Δ since before the change, and the instant Δ
 * earlier showed the very same wall time): the instant the repeated stretch ends, from
 * which on every wall time is new again. Null when `at` repeats nothing. Generic for any
 * zone and any size of shift.
 */
function endOfRepeat(zone: string, at: number): number | null {
  // UTC never changes its offset: most schedules need no look at the zone's rules.
  if (zone === DEFAULT_ZONE) return null;
  const offset = utcOffsetMs(zone, at);
  const drop = utcOffsetMs(zone, at - OFFSET_LOOKBACK_MS) - offset;
  if (drop <= 0 || utcOffsetMs(zone, at - drop) !== offset + drop) return null;
  // The clocks went back within (at - drop, at], to the second; wall times repeat for `drop` from then.
  let before = at - drop;
  let after = at;
  while (after - before > 1000) {
    const middle = before + Math.floor((after - before) / 2000) * 1000;
    if (utcOffsetMs(zone, middle) === offset) after = middle;
    else before = middle;
  }
  return after + drop;
}

/**
 * The instant in (after, before) at which the clocks went forward, when they did and the
 * pattern matches a wall time they skipped; else null. croner places such a run at the
 * next valid time only when nothing else matches sooner: `45 2,4` on a spring-forward day
 * at 02:00 ran at 04:45 alone, and the 02:45 run was lost.
 */
function skippedFiring(cron: Cron, zone: string, after: number, before: number): number | null {
  if (zone === DEFAULT_ZONE) return null;
  const offsetBefore = utcOffsetMs(zone, after);
  const jump = utcOffsetMs(zone, before) - offsetBefore;
  if (jump <= 0) return null;
  // The first second on the new offset, found to the second as endOfRepeat does.
  let low = Math.floor(after / 1000) * 1000;
  let high = Math.ceil(before / 1000) * 1000;
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000;
    if (utcOffsetMs(zone, middle) === offsetBefore) low = middle;
    else high = middle;
  }
  if (high <= after || high >= before) return null;
  // Wall times from `high + offsetBefore` to `high + offsetBefore + jump` never showed: read
  // the pattern on the wall clock itself (as UTC, which never skips) over that stretch.
  const { Cron: CronPattern } = require("croner") as typeof import("croner");
  const wall = new CronPattern(cron.getPattern() ?? "", { paused: true, timezone: DEFAULT_ZONE });
  const firstSkipped = high + offsetBefore;
  const match = wall.nextRun(new Date(firstSkipped - 1000));
  return match !== null && match.getTime() < firstSkipped + jump ? high : null;
}

/**
 * croner's next run after `after`, passing over the second pass through a repeated hour:
 * when the clocks go back, each wall time fires at its first occurrence only. A wall time
 * the clocks skip runs once, at the first valid time after the change.
 */
function nextFiring(cron: Cron, zone: string, after: number): number | null {
  let cursor = after;
  for (;;) {
    const next = cron.nextRun(new Date(cursor));
    if (!next) return null;
    const skipped = skippedFiring(cron, zone, cursor, next.getTime());
    if (skipped !== null) return skipped;
    const end = endOfRepeat(zone, next.getTime());
    if (end === null) return next.getTime();
    // Every run before `end` repeats a wall time too: an every-second pattern would visit thousands.
    cursor = Math.max(next.getTime(), end - 1000);
  }
}

/** The first occurrence strictly after `after`, or null when the pattern never fires again. */
export function nextOccurrence(spec: JobSpec, after: number): number | null {
  return nextFiring(cronOf(spec), zoneOf(spec), after);
}

/**
 * Where a declared schedule's next occurrence falls once its jobfile is synced: for a new
 * one, or one with nothing owed, the first occurrence after now. One whose stored next
 * occurrence is already due keeps what it owes, counted by the new pattern from that
 * occurrence on, so editing the file (or a host syncing it late) never drops a run the
 * workers had not reached yet; the catch-up policy then decides, as for any missed run.
 */
export function nextAfterChange(spec: JobSpec, storedNextAt: number | null, now: number): number | null {
  if (storedNextAt === null || storedNextAt > now) return nextOccurrence(spec, now);
  return nextOccurrence(spec, storedNextAt - 1);
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
  const zone = zoneOf(spec);
  const catchup = spec.catchup ?? "latest";
  // A `nextAt` stored by an older version may be a repeated wall time: it is not owed.
  const head = endOfRepeat(zone, nextAt) === null ? [nextAt] : [];
  let walked = walkFirings(cron, zone, nextAt, now, FULL_WALK_STEPS);
  let owed = [...head, ...walked.owed].slice(-MAX_CATCHUP);
  let total = head.length + walked.count;
  if (!walked.done) {
    // Far behind (no worker for weeks, an old backup restored): a step per missed occurrence
    // held every worker's loop for seconds, heartbeats too. Only the tail can run, so it is
    // found by searching back from now; `skipped` then counts what was looked at.
    const from = tailStart(cron, zone, walked.cursor, now, catchup === "all" ? MAX_CATCHUP : 1);
    walked = walkFirings(cron, zone, from, now, Number.POSITIVE_INFINITY);
    // A tail of fewer than MAX_CATCHUP begins where the first walk stopped, so the firings that
    // walk kept come just before it: 250 missed minutes owe the last 100, not the 49 after step 201.
    owed = [...owed, ...walked.owed].slice(-MAX_CATCHUP);
    total += walked.count;
  }
  const cursor = owed.at(-1) ?? nextAt;
  const nextDue = nextFiring(cron, zone, Math.max(cursor, now));
  let runAt: number[];
  if (catchup === "all") runAt = owed;
  else if (catchup === "none") runAt = owed.filter((at) => now - at <= MISSED_AFTER_MS).slice(-1);
  else runAt = owed.slice(-1);
  return { runAt, skipped: total - runAt.length, nextAt: nextDue };
}

/** Missed occurrences stepped through one by one before the tail is searched for instead. */
const FULL_WALK_STEPS = 200;

/**
 * The firings after `from` up to `now`, at most `steps` of them; the last MAX_CATCHUP are
 * kept. `done` is false when `steps` ran out first, `cursor` the last firing reached.
 */
function walkFirings(
  cron: Cron,
  zone: string,
  from: number,
  now: number,
  steps: number,
): { owed: number[]; count: number; cursor: number; done: boolean } {
  const owed: number[] = [];
  let cursor = from;
  let count = 0;
  for (;;) {
    const next = nextFiring(cron, zone, cursor);
    if (next === null || next > now) return { owed, count, cursor, done: true };
    if (count >= steps) return { owed, count, cursor, done: false };
    cursor = next;
    count++;
    owed.push(cursor);
    // Keep memory bounded when a schedule was idle for years: only the tail can matter.
    if (owed.length > MAX_CATCHUP) owed.shift();
  }
}

/**
 * A point after `lower` from which the firings up to `now` include the last `want` ones:
 * windows back from `now`, doubling from a minute, until one holds `want` firings (or
 * reaches `lower`). A few dozen steps, where walking from `lower` could take a million.
 */
function tailStart(cron: Cron, zone: string, lower: number, now: number, want: number): number {
  for (let back = 60_000; now - back > lower; back *= 2) {
    let count = 0;
    for (
      let at = nextFiring(cron, zone, now - back);
      at !== null && at <= now;
      at = nextFiring(cron, zone, at)
    ) {
      if (++count >= want) return now - back;
    }
  }
  return lower;
}

/** The spec of one occurrence: the schedule's spec without its scheduling fields. */
export function occurrenceSpec(spec: JobSpec, at: number): JobSpec {
  const { schedule: _schedule, timezone: _timezone, catchup: _catchup, overlap: _overlap, ...rest } = spec;
  return { ...rest, id: occurrenceId(spec.id, at) };
}
