import { UserError } from "./errors.ts";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * The longest duration and the farthest run time queuectl accepts: 100 years (of 365.25
 * days). Far enough for any real delay or timeout, and near enough that every time the
 * queue computes from it stays a valid date on every backend.
 */
export const MAX_DURATION_MS = 100 * 365.25 * 86_400_000;
export const HORIZON_TEXT = "100 years";

/**
 * Parses a duration as users write it: a number of seconds (`90`), or a string such as
 * `"90s"`, `"5m"`, `"2h"`, `"1h30m"`, `"7d"`, `"250ms"`. Returns milliseconds.
 * `what` names the input in the error, e.g. `timeout`. Anything over MAX_DURATION_MS is refused.
 */
export function parseDurationMs(value: unknown, what: string): number {
  const ms = parseAnyDurationMs(value, what);
  if (ms > MAX_DURATION_MS) {
    throw new UserError(
      `${what} ${typeof value === "string" ? `"${value}"` : value} is longer than ${HORIZON_TEXT}`,
      `use at most ${HORIZON_TEXT} (e.g. "36525d")`,
    );
  }
  return ms;
}

/**
 * parseDurationMs without its upper bound, for callers with a range of their own: a
 * well-formed duration is returned however long (Infinity for one past any number), so that
 * the caller's range message, not "is not a duration", answers it. Malformed and negative
 * input is refused here, each with its own message.
 */
export function parseAnyDurationMs(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (Number.isNaN(value)) {
      throw new UserError(`${what} must be a number of seconds, got ${value}`, 'use e.g. 90 or "5m"');
    }
    if (value < 0) throw negative(what, value);
    return Math.round(value * 1000);
  }
  if (typeof value !== "string") {
    throw new UserError(`${what} must be seconds or a duration string`, 'use e.g. 90, "90s", "5m" or "2h"');
  }
  const text = value.trim();
  // A minus sign before a duration that is otherwise well formed: say what is wrong with it.
  const minus = /^-\s*/.exec(text)?.[0] ?? "";
  const ms = unsignedMs(text.slice(minus.length));
  if (ms === null) {
    throw new UserError(`${what} "${value}" is not a duration`, 'use e.g. 90, "90s", "5m", "2h" or "1h30m"');
  }
  if (ms === "unordered") {
    throw new UserError(
      `${what} "${value}" is not a duration: its units repeat or are out of order`,
      'write each unit once, largest first, e.g. "1h30m" or "2d12h"',
    );
  }
  if (minus !== "" && ms > 0) throw negative(what, `"${value}"`);
  return ms;
}

function negative(what: string, shown: string | number): UserError {
  return new UserError(`${what} must not be negative, got ${shown}`, 'use e.g. 90, "90s" or "5m"');
}

/**
 * Seconds or amounts with units, in ms; null when `text` is neither, "unordered" when its
 * units repeat or climb (`1h1h`, `30m1h`), which reads as a typo rather than a sum.
 */
function unsignedMs(text: string): number | null | "unordered" {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return null;
  let total = 0;
  // Each part's unit is smaller than the one before it: largest first, none twice.
  let previousUnitMs = Number.POSITIVE_INFINITY;
  for (const [, amount, unit] of parts) {
    const unitMs = UNIT_MS[unit ?? "s"] ?? 1000;
    if (unitMs >= previousUnitMs) return "unordered";
    previousUnitMs = unitMs;
    total += Number(amount) * unitMs;
  }
  return Math.round(total);
}

/** A compact human form: 1500 → "1.5s", 90000 → "1m30s". */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${Number((ms / 1000).toFixed(1))}s`;
  // Round once, to whole seconds, so 3 599 999 ms reads "1h" and never "59m60s".
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
}
