/**
 * The errors both backends raise with the same words, and the choice of which id a refused
 * bulk write names. Backend failures (a locked file, a server that is down) are described
 * by each backend's connection.ts instead.
 */

import { MissingDependencyError } from "../core/dependencies.ts";
import { DuplicateIdError, runtimeError, UserError } from "../core/errors.ts";
import { firstScheduleClaim, scheduleClaimError } from "../core/occurrence-id.ts";

/** An enqueue that names an id the store already has, or one repeated in its input. */
export function duplicateIdError(id: string): DuplicateIdError {
  return new DuplicateIdError(
    id,
    `job id "${id}" already exists`,
    "choose another id, or run it again with `queuectl rerun <id>`; nothing was enqueued",
  );
}

/**
 * The refusal of the first of `ids` that a schedule claims (its id, or one of its occurrence
 * ids), given the schedule ids the store has among their claimants; null when none is claimed.
 */
export function scheduleClaimRefusal(
  ids: readonly string[],
  schedules: ReadonlySet<string>,
): UserError | null {
  if (schedules.size === 0) return null;
  const claimed = firstScheduleClaim(ids, (id) => schedules.has(id));
  return claimed ? scheduleClaimError(claimed.id, claimed.claim) : null;
}

/**
 * A jobfile apply found `id` waiting on itself through stored jobs: a cycle another sync
 * closed between this sync's plan and its apply (the plan refuses the ones it can see).
 */
export function lateCycleError(id: string): UserError {
  return new UserError(
    `the dependencies of job "${id}" form a cycle with a change another sync made at the same time`,
    "nothing of this sync was applied; sync again, and its plan names the `after` line to change",
  );
}

export function importDuplicateError(id: string): DuplicateIdError {
  return new DuplicateIdError(
    id,
    `job id "${id}" already exists in the target store`,
    "nothing was imported; import into an empty store, use --merge to skip ids that exist, or remove that job from the input",
  );
}

export function scheduleDuplicateError(id: string): UserError {
  return new UserError(
    `schedule id "${id}" already exists in the target store`,
    "nothing was imported; import into an empty store, use --merge to skip ids that exist, or remove that schedule from the input",
  );
}

/** A job whose `after` names an id the store does not have; a door may word it again (`wordedFor`). */
export function missingDependencyError(jobId: string, dependency: string): MissingDependencyError {
  return new MissingDependencyError(jobId, dependency);
}

/** A store whose recorded schema version is newer than this code's migrations. */
export function schemaTooNewError(location: string, found: number, known: number): UserError {
  return runtimeError(
    `the database ${location} has schema version ${found}, newer than this queuectl understands (${known})`,
    "upgrade queuectl, or point QUEUECTL_DB at another database",
  );
}

/** The first id of `ids`, in order, that did not go in: already stored, or repeated. */
export function firstRejected(ids: string[], inserted: Set<string>): string | undefined {
  const seen = new Set<string>();
  for (const id of ids) {
    if (!inserted.has(id) || seen.has(id)) return id;
    seen.add(id);
  }
  return undefined;
}
