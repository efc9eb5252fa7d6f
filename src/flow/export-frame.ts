/**
 * The frame of a format-2 export: a first line naming the format and a last line counting the
 * lines between, so that a copy cut between two lines is refused like one cut mid-line
 * (import-read.ts follows the frames of an input; export-format.ts documents the format).
 */

import { UserError } from "../core/errors.ts";
import { type Fields, fieldError, integer } from "./export-fields.ts";

/** The format `export` writes; an import refuses a higher one, written by a later release. */
export const EXPORT_FORMAT = 2;

/**
 * What an export's last line counts; `config` counts values, `attempts` finished attempts,
 * `purged` the lines of purged jobs' completed revisions (one per id).
 */
export const COUNTED = ["jobs", "attempts", "schedules", "queues", "config", "purged"] as const;
export type ExportCounts = Record<(typeof COUNTED)[number], number>;

/**
 * Counts a last line may leave out: added after format 2 first shipped. An export written
 * before had no such line to count, so the count is 0.
 */
export const LATER_COUNTS: readonly string[] = ["purged"];

/** The first line (`export`) or the last line (`end`) of a format-2 export. */
export type ExportFrame = { kind: "export"; format: number } | { kind: "end"; counts: ExportCounts };

export function exportCounts(): ExportCounts {
  return { jobs: 0, attempts: 0, schedules: 0, queues: 0, config: 0, purged: 0 };
}

/** A frame line's fields, present and none unknown (export-format.ts checked that), as its frame. */
export function parseFrame(where: string, kind: "export" | "end", fields: Fields): ExportFrame {
  if (kind === "end") {
    const counts = exportCounts();
    for (const field of COUNTED) {
      if (fields[field] === undefined && LATER_COUNTS.includes(field)) continue;
      const count = integer(where, fields, field) as number;
      if (count < 0) throw fieldError(where, field, "must be a whole number of at least 0");
      counts[field] = count;
    }
    return { kind, counts };
  }
  const format = integer(where, fields, "format") as number;
  if (format > EXPORT_FORMAT) {
    throw new UserError(
      `${where}: written by a later queuectl (export format ${format}; this one reads up to ${EXPORT_FORMAT})`,
      "import it with that release or a newer one",
    );
  }
  if (format < EXPORT_FORMAT) throw fieldError(where, "format", `must be ${EXPORT_FORMAT}`);
  return { kind, format };
}
