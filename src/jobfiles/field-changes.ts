/**
 * What an update changes, field by field, as `terraform plan` shows it:
 * `~ command: "echo v1" → "echo v2"`. Values are shown as JSON so that a string, a number
 * and a list can never be mistaken for one another.
 */

import { formatDurationMs } from "../core/duration.ts";
import type { JobSpec } from "../core/spec.ts";

export interface FieldChange {
  field: string;
  /** The stored value, or undefined when the field was not set. */
  from: unknown;
  /** The declared value, or undefined when the field is no longer set. */
  to: unknown;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Fields in the order a reader expects: the spec's own order, then those only the old one had. */
export function fieldChanges(from: JobSpec, to: JobSpec): FieldChange[] {
  const before = from as unknown as Record<string, unknown>;
  const after = to as unknown as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(after), ...Object.keys(before)])].filter(
    (field) => field !== "id",
  );
  return fields
    .filter((field) => !same(before[field], after[field]))
    .map((field) => ({ field, from: before[field], to: after[field] }));
}

/**
 * A normalized spec keeps durations as numbers (`delay` in ms, `timeout` in seconds); a plan
 * shows them as a jobfile writes them, so `delay: 1h` never reads back as 3600000.
 */
const DURATION_UNIT_MS: Record<string, number> = { delay: 1, timeout: 1000 };

/** `"echo v1"`, `3`, `["a","b"]`, `"1h"` for a duration, or `(unset)`. */
export function showValue(value: unknown, field = ""): string {
  if (value === undefined) return "(unset)";
  const unit = DURATION_UNIT_MS[field];
  if (unit !== undefined && typeof value === "number") return JSON.stringify(formatDurationMs(value * unit));
  return JSON.stringify(value);
}
