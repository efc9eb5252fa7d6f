/**
 * What an update changes, field by field, as `terraform plan` shows it:
 * `~ command: "echo v1" → "echo v2"`. Values are shown as JSON so that a string, a number
 * and a list can never be mistaken for one another.
 */

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

/** `"echo v1"`, `3`, `["a","b"]`, or `(unset)`. */
export function showValue(value: unknown): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}
