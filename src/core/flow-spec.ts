/**
 * The spec fields for flow: `after` (dependencies) and `schedule` with its `timezone`,
 * `catchup` and `overlap` options. Kept apart from spec.ts because they shape when a job
 * may run, not what it runs.
 */

import { nearestName, SpecError } from "./errors.ts";
import { CATCHUP_POLICIES, type JobSpec, OVERLAP_POLICIES, SCHEDULE_ONLY_FIELDS } from "./spec-fields.ts";

export type { CatchupPolicy, OverlapPolicy } from "./spec-fields.ts";

function fail(field: string, rule: string, hint: string): never {
  throw new SpecError(`\`${field}\` ${rule}`, hint, field);
}

function normalizeAfter(value: unknown, id: string): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) fail("after", "must be a list of job ids", 'e.g. "after": ["build"]');
  const ids = new Set<string>();
  for (const item of list) {
    if (typeof item !== "string" || item.trim() === "")
      fail("after", "must hold job ids (strings)", 'e.g. ["build"]');
    if (item === id) fail("after", `names the job itself ("${id}")`, "a job cannot wait for itself");
    ids.add(item);
  }
  return [...ids].sort();
}

function normalizeTimezone(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "")
    fail("timezone", "must be an IANA time zone name", 'e.g. "Europe/Berlin"');
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
  } catch {
    fail(
      "timezone",
      `"${value}" is not a known time zone`,
      'use an IANA name such as "Europe/Berlin" or "UTC"',
    );
  }
  return value;
}

function normalizeChoice<T extends string>(field: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    const nearest = typeof value === "string" ? nearestName(value, choices) : undefined;
    fail(
      field,
      `must be one of ${choices.join(", ")}`,
      // The message lists the choices already; the hint adds only a near miss.
      nearest === undefined ? `e.g. "${choices[0]}"` : `did you mean \`${nearest}\`?`,
    );
  }
  return value as T;
}

/** Validates a cron pattern with croner (5 or 6 fields, `@daily` style nicknames). */
export function validateCron(pattern: unknown, timezone?: string): string {
  if (typeof pattern !== "string" || pattern.trim() === "") {
    fail("schedule", "must be a cron expression", 'e.g. "*/5 * * * *" (every 5 minutes)');
  }
  let cron: import("croner").Cron | undefined;
  try {
    // Loaded here: croner costs a one-job `enqueue` more start-up time than its own code.
    const { Cron } = require("croner") as typeof import("croner");
    cron = new Cron(pattern, { paused: true, timezone });
  } catch (error) {
    fail(
      "schedule",
      `"${pattern}" is not a valid cron expression (${(error as Error).message})`,
      'e.g. "0 3 * * *" (daily at 03:00)',
    );
  }
  // Dates repeat every 400 years, so a pattern with no run after a fixed instant has none ever.
  if (cron?.nextRun(new Date(0)) === null) {
    fail(
      "schedule",
      `"${pattern}" never fires: no date matches it`,
      "check the day of the month against the month (there is no 30 February, and 29 February only in a leap year)",
    );
  }
  // A year field can leave every match behind: such a schedule would sit there doing nothing.
  if (cron?.nextRun(new Date()) === null) {
    fail(
      "schedule",
      `"${pattern}" never fires again: every date it matches has passed`,
      "check its year field",
    );
  }
  return pattern.trim();
}

/** Adds the flow fields of `input` to `spec`, leaving defaults out so the revision ignores them. */
export function normalizeFlowFields(input: Record<string, unknown>, spec: JobSpec): void {
  if (input.after !== undefined) {
    const after = normalizeAfter(input.after, spec.id);
    if (after.length > 0) spec.after = after;
  }
  if (input.schedule === undefined) {
    for (const field of SCHEDULE_ONLY_FIELDS) {
      if (input[field] !== undefined)
        fail(field, "only applies to a job with a `schedule`", "add a schedule or remove the field");
    }
    return;
  }
  if (input.run_at !== undefined || input.delay !== undefined) {
    fail(
      "schedule",
      "cannot be combined with `run_at` or `delay`",
      "the schedule decides when each occurrence runs",
    );
  }
  if (spec.after !== undefined)
    fail("schedule", "cannot be combined with `after`", "schedule the first job of the pipeline instead");
  if (input.timezone !== undefined) spec.timezone = normalizeTimezone(input.timezone);
  spec.schedule = validateCron(input.schedule, spec.timezone);
  if (input.catchup !== undefined) {
    const catchup = normalizeChoice("catchup", input.catchup, CATCHUP_POLICIES);
    if (catchup !== "latest") spec.catchup = catchup;
  }
  if (input.overlap !== undefined) {
    const overlap = normalizeChoice("overlap", input.overlap, OVERLAP_POLICIES);
    if (overlap !== "skip") spec.overlap = overlap;
  }
}
