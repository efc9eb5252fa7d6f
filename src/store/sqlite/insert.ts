/** The column values of a new job row, shared by plain enqueue and jobfile apply. */

import { UserError } from "../../core/errors.ts";
import type { NewJob } from "../store.ts";

export function insertValues(job: NewJob, now: number): (string | number | null)[] {
  return [
    job.spec.id,
    JSON.stringify(job.spec),
    job.revision,
    job.maxRetries,
    job.spec.priority ?? 0,
    job.spec.queue ?? "default",
    JSON.stringify(job.spec.tags ?? []),
    now,
    now,
    job.nextRunAt,
    job.source,
    job.source === null ? 0 : 1,
  ];
}

export function duplicateIdError(id: string): UserError {
  return new UserError(
    `job id "${id}" already exists`,
    "choose another id, or run it again with `queuectl rerun <id>`; nothing was enqueued",
  );
}
