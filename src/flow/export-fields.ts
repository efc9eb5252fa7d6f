/**
 * The checks every kind of export line shares (export-format.ts, export-frame.ts): one field
 * at a time, refused in one line that names the line and the field, so a hand-edited or
 * foreign file is fixed where it is wrong instead of half-imported.
 */

import { UserError } from "../core/errors.ts";

export type Fields = Record<string, unknown>;

export function fieldError(where: string, field: string, rule: string): UserError {
  return new UserError(
    `${where}: \`${field}\` ${rule}`,
    "import reads what `queuectl export` writes; fix or remove that line",
  );
}

export function integer(where: string, fields: Fields, field: string, nullable = false): number | null {
  const value = fields[field];
  if (nullable && value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw fieldError(where, field, nullable ? "must be a whole number or null" : "must be a whole number");
  }
  return value;
}

/** A count the run rules read: a worker would run a job whose counts are negative or past the bound. */
export function count(where: string, fields: Fields, field: string, max?: number): number {
  const value = integer(where, fields, field) as number;
  const range = max === undefined ? "must be 0 or more" : `must be from 0 to ${max}`;
  if (value < 0 || value > (max ?? value)) throw fieldError(where, field, `${range}, got ${value}`);
  return value;
}

export function text(where: string, fields: Fields, field: string, nullable = false): string | null {
  const value = fields[field];
  if (nullable && value === null) return null;
  if (typeof value !== "string") {
    throw fieldError(where, field, nullable ? "must be a string or null" : "must be a string");
  }
  if (value.includes("\0") && !PRINTED_TEXTS.has(field))
    throw fieldError(where, field, "must not hold a NUL character");
  return value;
}

/** What a job printed or wrote, kept as it came: a NUL there is output (PostgreSQL stores U+FFFD). */
const PRINTED_TEXTS = new Set(["last_error", "error", "output_tail", "progress_message"]);
