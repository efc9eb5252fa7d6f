/**
 * Resource limits of a job: memory, CPU time and processes. The same JSON shape is accepted
 * in three places (the job's `limits` field, a queue's defaults and the `limits` config key),
 * and one pure function decides what applies to an attempt, field by field.
 */

import { formatDurationMs, parseDurationMs } from "./duration.ts";
import { suggestion, UserError } from "./errors.ts";
import { findDuplicateJsonKey } from "./json-text.ts";

/** Normalized limits; an absent field means no limit of that kind. */
export interface ResourceLimits {
  /** Bytes of memory the job (all its processes, under a cgroup) may use. */
  memory?: number;
  /** Seconds of CPU time, whole: the kernel counts RLIMIT_CPU in seconds. */
  cpu_time?: number;
  /** Processes (and threads) the job may have at once. */
  processes?: number;
}

export const LIMIT_FIELDS = ["memory", "cpu_time", "processes"] as const;

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** Below this no real program starts; a smaller figure is a missing unit ("256" for "256M"). */
const MIN_MEMORY = 1024 ** 2;
const MAX_MEMORY = 1024 ** 5;
const MAX_PROCESSES = 4_194_304;
const SIZE_HINT = 'use e.g. "256M", "1.5G" or "262144K"';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "256M", "1.5G", "262144K", "256MB", "256Mi" or a number of bytes. */
export function parseSize(value: unknown, what: string): number {
  const text = typeof value === "number" ? String(value) : value;
  const match = typeof text === "string" ? /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim()) : null;
  if (!match) throw new UserError(`${what} ${JSON.stringify(value)} is not a size`, SIZE_HINT);
  const bytes = Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? "").toUpperCase()] ?? 1));
  if (bytes < MIN_MEMORY || bytes > MAX_MEMORY)
    throw new UserError(
      `${what} ${JSON.stringify(value)} must be between 1M and 1048576G (1 PiB)`,
      SIZE_HINT,
    );
  return bytes;
}

/** 268435456 → "256 MB": the unit a user would have written, in show and error texts. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ["GB", SIZE_UNITS.G],
    ["MB", SIZE_UNITS.M],
    ["KB", SIZE_UNITS.K],
  ] as const) {
    if (size !== undefined && bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * Validates one limits object. `what` names it in errors (`limits`, `queue limits`, …).
 * Throws a UserError whose message starts with the offending field, e.g. `limits.memory`.
 */
export function parseLimits(value: unknown, what = "limits"): ResourceLimits {
  if (!isPlainObject(value))
    throw new UserError(`${what} must be a mapping`, 'e.g. {"memory": "256M", "cpu_time": "10m"}');
  const limits: ResourceLimits = {};
  for (const key of Object.keys(value)) {
    if (!(LIMIT_FIELDS as readonly string[]).includes(key))
      throw new UserError(`${what}.${key} is not a limit`, suggestion(key, LIMIT_FIELDS));
  }
  if (value.memory !== undefined) limits.memory = parseSize(value.memory, `${what}.memory`);
  if (value.cpu_time !== undefined) {
    const ms = parseDurationMs(value.cpu_time, `${what}.cpu_time`);
    if (ms < 1000) throw new UserError(`${what}.cpu_time must be at least 1s`, 'e.g. "10m"');
    limits.cpu_time = Math.ceil(ms / 1000);
  }
  if (value.processes !== undefined) {
    const n = value.processes;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_PROCESSES)
      throw new UserError(`${what}.processes must be a whole number from 1 to ${MAX_PROCESSES}`, "e.g. 100");
    limits.processes = n;
  }
  return limits;
}

/** Parses stored or typed text: JSON of the shape above, or `none`/`off` for no limits. */
export function parseLimitsText(text: string, what = "limits"): ResourceLimits | null {
  if (/^(none|off)$/i.test(text.trim())) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError(`${what} ${JSON.stringify(text)} is not JSON`, `e.g. '{"memory":"256M"}' or none`);
  }
  // JSON.parse keeps the last of two equal keys without a word; a job's spec refuses them too.
  const twice = findDuplicateJsonKey(text);
  if (twice !== undefined)
    throw new UserError(`${what} gives the key "${twice}" twice`, "give each limit once");
  const limits = parseLimits(value, what);
  return isEmpty(limits) ? null : limits;
}

/** Stored and shown form: the units a user writes, so it parses back to the same limits. */
export function limitsText(limits: ResourceLimits | null | undefined): string {
  if (!limits || isEmpty(limits)) return "none";
  const shown: Record<string, string | number> = {};
  const memory = limits.memory;
  if (memory !== undefined) {
    const unit = (["G", "M", "K"] as const).find((u) => memory % (SIZE_UNITS[u] ?? 1) === 0);
    shown.memory = unit ? `${memory / (SIZE_UNITS[unit] ?? 1)}${unit}` : memory;
  }
  if (limits.cpu_time !== undefined) shown.cpu_time = formatDurationMs(limits.cpu_time * 1000);
  if (limits.processes !== undefined) shown.processes = limits.processes;
  return JSON.stringify(shown);
}

export function isEmpty(limits: ResourceLimits): boolean {
  return limits.memory === undefined && limits.cpu_time === undefined && limits.processes === undefined;
}

/**
 * The limits of one attempt: each field from the job, else its queue's default, else the
 * `limits` config key. Field by field, so a job that sets only `memory` keeps its queue's
 * `processes`. Null when nothing applies (the worker then spawns the job as it always did).
 */
export function resolveLimits(
  job: ResourceLimits | undefined,
  queue: ResourceLimits | null | undefined,
  config: ResourceLimits | null | undefined,
): ResourceLimits | null {
  const limits: ResourceLimits = {};
  for (const field of LIMIT_FIELDS) {
    const value = job?.[field] ?? queue?.[field] ?? config?.[field];
    if (value !== undefined) limits[field] = value;
  }
  return isEmpty(limits) ? null : limits;
}

/** "memory 256 MB, cpu 10m, processes 100", as `show` prints it. */
export function describeLimits(limits: ResourceLimits): string {
  const parts: string[] = [];
  if (limits.memory !== undefined) parts.push(`memory ${formatSize(limits.memory)}`);
  if (limits.cpu_time !== undefined) parts.push(`cpu ${formatDurationMs(limits.cpu_time * 1000)}`);
  if (limits.processes !== undefined) parts.push(`processes ${limits.processes}`);
  return parts.join(", ");
}

/**
 * QUEUECTL_LIMITS as set: unset picks the best mechanism the machine offers, `rlimit` forces
 * the fallback. Anything else is refused before a worker starts, rather than ignored.
 */
export function assertLimitsSetting(value: string | undefined): void {
  if (value === undefined || value === "rlimit") return;
  throw new UserError(
    `QUEUECTL_LIMITS is "${value}", which names no way to enforce resource limits`,
    "set QUEUECTL_LIMITS=rlimit to force rlimits, or unset it to use the best mechanism found",
  );
}
