/**
 * Occurrence ids. Each occurrence of a schedule is a job whose id is `<schedule id>@<instant>`,
 * the instant written exactly as `toISOString` writes it. The ticker treats a job that
 * already has such an id as the occurrence itself and never enqueues over it, so those ids
 * belong to the schedule: a job or schedule made by any other door may take neither the id
 * of a schedule nor the id of one of its occurrences. Every door asks `scheduleClaim`.
 */

import { UserError } from "./errors.ts";
import { FINISHED_STATES } from "./job.ts";

export function occurrenceId(scheduleId: string, at: number): string {
  return `${scheduleId}@${new Date(at).toISOString()}`;
}

/**
 * The schedule id and instant `id` would be an occurrence of, or null when it does not have
 * the form. Only the canonical instant counts: `s@2026-01-01T00:00:00Z` can never be the
 * id of an occurrence, so it is an ordinary id.
 */
export function parseOccurrenceId(id: string): { scheduleId: string; at: number } | null {
  const separator = id.lastIndexOf("@");
  if (separator <= 0) return null;
  const instant = id.slice(separator + 1);
  const at = Date.parse(instant);
  if (Number.isNaN(at) || new Date(at).toISOString() !== instant) return null;
  return { scheduleId: id.slice(0, separator), at };
}

/** Why a new job or schedule may not take an id: it is a schedule's, or one of its occurrences'. */
export type ScheduleClaim =
  | { kind: "schedule"; scheduleId: string }
  | { kind: "occurrence"; scheduleId: string };

/**
 * The schedule ids whose existence decides whether `ids` are free: each id itself, and the
 * schedule id it would be an occurrence of.
 */
export function claimantIds(ids: Iterable<string>): string[] {
  const claimants: string[] = [];
  for (const id of ids) {
    claimants.push(id);
    const occurrence = parseOccurrenceId(id);
    if (occurrence) claimants.push(occurrence.scheduleId);
  }
  return claimants;
}

/** The claim a schedule has on `id`, given which schedule ids exist; null when `id` is free of schedules. */
export function scheduleClaim(id: string, isSchedule: (id: string) => boolean): ScheduleClaim | null {
  if (isSchedule(id)) return { kind: "schedule", scheduleId: id };
  const occurrence = parseOccurrenceId(id);
  if (occurrence && isSchedule(occurrence.scheduleId))
    return { kind: "occurrence", scheduleId: occurrence.scheduleId };
  return null;
}

/** The first of `ids`, in order, that a schedule claims, with its claim. */
export function firstScheduleClaim(
  ids: Iterable<string>,
  isSchedule: (id: string) => boolean,
): { id: string; claim: ScheduleClaim } | null {
  for (const id of ids) {
    const claim = scheduleClaim(id, isSchedule);
    if (claim) return { id, claim };
  }
  return null;
}

/** The message and the reason for every door; each door adds what to do in its own words. */
export function describeScheduleClaim(id: string, claim: ScheduleClaim): { message: string; why: string } {
  if (claim.kind === "schedule")
    return { message: `id "${id}" is already used by a schedule`, why: "see `queuectl schedule list`" };
  return {
    message: `id "${id}" is the id of an occurrence of schedule "${claim.scheduleId}"`,
    why: `ids of the form "${claim.scheduleId}@<time>" are kept for that schedule's occurrences`,
  };
}

/** What `enqueue`, `add` and the REST API answer for a claimed id; nothing is enqueued. */
export function scheduleClaimError(id: string, claim: ScheduleClaim): UserError {
  const { message, why } = describeScheduleClaim(id, claim);
  return new UserError(`job ${message}`, `choose another id (${why}); nothing was enqueued`);
}

/**
 * The claim an imported job's id meets from the schedules the store had before the import:
 * an id of the form `<schedule id>@<instant>` of one of them is that schedule's, unless the
 * job is that very occurrence: its `schedule_id` names the schedule, and it has ended or was
 * made from the schedule as the store has it (the same revision). A pending job of another
 * store's schedule of the same id (`import --merge` of its export) would otherwise take the
 * instant and run that store's command. A schedule the same input brings claims nothing: the
 * input restores a store as it was, where such a job may have come first. A job whose id is
 * a schedule's own is refused by the insert itself, as a taken id.
 */
export function importedJobClaim(
  job: { id: string; schedule_id: string | null; state: string; revision: string },
  scheduleBefore: (id: string) => { revision: string } | undefined,
): ScheduleClaim | null {
  const claim = scheduleClaim(job.id, (id) => scheduleBefore(id) !== undefined);
  if (claim === null || claim.kind === "schedule") return null;
  if (claim.scheduleId !== job.schedule_id) return claim;
  const ended = (FINISHED_STATES as readonly string[]).includes(job.state);
  return ended || scheduleBefore(claim.scheduleId)?.revision === job.revision ? null : claim;
}

/** What `import` answers for such a job; with `--merge` it is skipped instead. */
export function importClaimError(id: string, claim: ScheduleClaim): UserError {
  const { message, why } = describeScheduleClaim(id, claim);
  return new UserError(
    `job ${message} in the target store`,
    `${why}; nothing was imported; use --merge to skip such jobs, or remove that job from the input`,
  );
}
