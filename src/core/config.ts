/**
 * Queue-wide settings. They live in the store, so every worker on every host sees the
 * same values, and running workers re-read them without a restart.
 */

import { formatDurationMs, parseAnyDurationMs } from "./duration.ts";
import { suggestion, UserError } from "./errors.ts";
import { findDuplicateJsonKey } from "./json-text.ts";
import { normalizeNotify, parseStoredNotify } from "./notify.ts";
import { limitsText, parseLimitsText, type ResourceLimits } from "./resource-limits.ts";
import { CONTROL_CHARACTERS, MAX_RETRIES } from "./spec-fields.ts";

export interface QueueConfig {
  /** Retries after the first run before a job goes to the DLQ. Default 3. */
  maxRetries: number;
  /** Exponential backoff base: the n-th retry waits base^n seconds. Default 2. */
  backoffBase: number;
  /** Upper bound of one backoff delay, in seconds. Default 3600 (1 h). */
  backoffMaxSeconds: number;
  /** How often an idle worker polls when no wake-up arrives, in ms. Default 1000. */
  pollIntervalMs: number;
  /** Timeout of a job that sets none, in ms. Default 3600000 (1 h). */
  jobTimeoutMs: number;
  /** How long a silent worker keeps a claimed job before others rescue it, in ms. Default 30000. */
  leaseMs: number;
  /** Finished jobs older than this are purged by workers; null (default) keeps them forever. */
  retentionMs: number | null;
  /** An absolute path on each worker's host that the retention purge appends jobs to first; null (default): none. */
  retentionArchive: string | null;
  /** Resource limits of jobs whose spec and queue leave a field unset; null (default) for none. */
  limits: ResourceLimits | null;
}

interface KeyDefinition {
  describe: string;
  defaultValue: string;
  /** Turns user text into the canonical stored text, or throws a UserError. */
  parse: (text: string, key: string) => string;
  /** The stored text as `--json` carries it, for a value that is JSON itself (default: number or text). */
  json?: (stored: string) => unknown;
}

function integerRule(min: number, max: number) {
  return (text: string, key: string): string => {
    const value = Number(text.trim());
    if (!/^[+-]?\d+$/.test(text.trim()) || value < min || value > max) {
      throw new UserError(
        `${key} must be a whole number from ${min} to ${max}, got "${text}"`,
        `e.g. config set ${key} ${min + 1}`,
      );
    }
    return String(value);
  };
}

/** Decimal numbers only, as every number option takes them: `0x5` or `1e1` are refused, not read. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

function numberRule(min: number, max: number) {
  return (text: string, key: string): string => {
    const value = Number(text.trim());
    if (!DECIMAL.test(text.trim()) || value < min || value > max) {
      throw new UserError(
        `${key} must be a number from ${min} to ${max}, got "${text}"`,
        `e.g. config set ${key} 2`,
      );
    }
    return String(value);
  };
}

/**
 * Durations are stored as seconds; users may write 90, 90s, 5m, 2h. A well-formed value out
 * of the key's range, however long, gets the range; only malformed text is "not a duration".
 */
function secondsRule(minMs: number, maxMs: number) {
  return (text: string, key: string): string => {
    let ms: number;
    try {
      ms = parseAnyDurationMs(text, key);
    } catch (error) {
      const message = error instanceof UserError ? error.message : `${key} "${text}" is not a duration`;
      const example = formatDurationMs(Math.min(Math.max(30_000, minMs), maxMs));
      throw new UserError(message, `e.g. config set ${key} ${example} (units: ms, s, m, h, d, w)`);
    }
    if (ms < minMs || ms > maxMs) {
      throw new UserError(
        `${key} must be between ${formatDurationMs(minMs)} and ${formatDurationMs(maxMs)}, got "${text}"`,
        // The bound the value is past, so the example is the nearest value allowed.
        `e.g. config set ${key} ${formatDurationMs(ms > maxMs ? maxMs : Math.max(minMs, 1000))}`,
      );
    }
    return String(ms / 1000);
  };
}

export const CONFIG_KEYS: Record<string, KeyDefinition> = {
  "max-retries": {
    describe: "retries before the DLQ",
    defaultValue: "3",
    parse: integerRule(0, MAX_RETRIES),
  },
  "backoff-base": { describe: "retry n waits base^n seconds", defaultValue: "2", parse: numberRule(1, 100) },
  "backoff-max": {
    describe: "cap of one retry delay, seconds",
    defaultValue: "3600",
    parse: secondsRule(1000, 365 * 86_400_000),
  },
  "poll-interval": {
    describe: "idle poll interval, seconds",
    defaultValue: "1",
    parse: secondsRule(10, 3_600_000),
  },
  "job-timeout": {
    describe: "default job timeout, seconds",
    defaultValue: "3600",
    parse: secondsRule(1000, 365 * 86_400_000),
  },
  lease: {
    describe: "a silent worker keeps a job this long, seconds",
    defaultValue: "30",
    parse: secondsRule(2000, 86_400_000),
  },
  retention: {
    describe: "workers purge finished jobs older than this, seconds, or off",
    defaultValue: "off",
    parse: (text, key) =>
      /^(off|none|0)$/i.test(text.trim()) ? "off" : secondsRule(60_000, 3650 * 86_400_000)(text, key),
  },
  "retention-archive": {
    describe: "workers append purged jobs to this file (NDJSON, on each worker's host), or off",
    defaultValue: "off",
    parse: (text, key) => {
      const value = text.trim();
      if (/^(off|none)$/i.test(value)) return "off";
      if (!value.startsWith("/") || CONTROL_CHARACTERS.test(value)) {
        throw new UserError(
          `${key} must be an absolute file path without control characters, or off; got ${JSON.stringify(text)}`,
          `e.g. config set ${key} /var/lib/queuectl/archive.ndjson`,
        );
      }
      return value;
    },
  },
  notify: {
    describe: "webhooks told about every job's events, a JSON list of {url, events}, or none",
    defaultValue: "[]",
    // `none` as `queue set --notify none` and `webhook-secret none` take it.
    parse: (text) =>
      /^\s*(none|off)\s*$/i.test(text)
        ? "[]"
        : JSON.stringify(normalizeNotify(parseJsonValue(text, "notify"), "notify")),
    json: parseStoredNotify,
  },
  "webhook-secret": {
    describe: "key of the HMAC-SHA256 webhook signature, or none (unsigned)",
    defaultValue: "none",
    parse: (text, key) => {
      const secret = text.trim();
      // Empty is more often an unset variable than a wish to stop signing: only `none` says that.
      if (secret === "")
        throw new UserError(`${key} is empty`, "give the secret, or `none` to send webhooks unsigned");
      if (/^(none|off)$/i.test(secret)) return "none";
      if (CONTROL_CHARACTERS.test(secret))
        throw new UserError(
          `${key} contains control characters`,
          "e.g. config set webhook-secret $(openssl rand -hex 32)",
        );
      if (secret.length < 16)
        throw new UserError(
          `${key} must be at least 16 characters`,
          "e.g. config set webhook-secret $(openssl rand -hex 32)",
        );
      return secret;
    },
  },
  limits: {
    describe: 'default resource limits, JSON like {"memory":"256M"}, or none',
    defaultValue: "none",
    parse: (text, key) => limitsText(parseLimitsText(text, key)),
    // As `config get limits` shows it (the units typed), or null for none.
    json: (stored) => {
      const limits = storedLimits(stored);
      return limits === null ? null : JSON.parse(limitsText(limits));
    },
  },
};

function parseJsonValue(text: string, key: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError(
      `${key} must be JSON, got "${text}"`,
      `e.g. config set ${key} '[{"url": "https://example.com/hook"}]'`,
    );
  }
  // JSON.parse keeps the last of two equal keys without a word; a job's spec refuses them too.
  const twice = findDuplicateJsonKey(text);
  if (twice !== undefined) throw new UserError(`${key} gives the key "${twice}" twice`, "give each key once");
  return value;
}

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS);

/** Accepts `max_retries` as well as `max-retries`: the original tool printed the former. */
export function canonicalConfigKey(key: string): string {
  const normalized = key.trim().toLowerCase().replaceAll("_", "-");
  if (!(normalized in CONFIG_KEYS)) {
    throw new UserError(`unknown config key "${key}"`, suggestion(key, CONFIG_KEY_NAMES));
  }
  return normalized;
}

/** Validates a `config set` value and returns the text to store. */
export function parseConfigValue(key: string, text: string): string {
  const canonical = canonicalConfigKey(key);
  const definition = CONFIG_KEYS[canonical];
  if (!definition) throw new UserError(`unknown config key "${key}"`, suggestion(key, CONFIG_KEY_NAMES));
  return definition.parse(text, canonical);
}

/** Every key with its stored value or its default. */
export function withDefaults(stored: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, definition] of Object.entries(CONFIG_KEYS))
    result[key] = stored[key] ?? definition.defaultValue;
  return result;
}

/**
 * One stored value as `config get --json` and `status --json` carry it: `notify` and `limits`
 * as JSON (a value that no longer parses as what workers use instead: no webhooks, no limits),
 * numbers (durations in seconds) as numbers, anything else as its text.
 */
export function configJsonValue(key: string, stored: string): unknown {
  const json = CONFIG_KEYS[key]?.json;
  if (json) return json(stored);
  const number = Number(stored);
  return stored.trim() !== "" && Number.isFinite(number) ? number : stored;
}

/** The typed view workers use. A stored value that no longer parses falls back to the default. */
export function resolveConfig(stored: Record<string, string>): QueueConfig {
  const values = withDefaults(stored);
  const number = (key: string): number => {
    const parsed = Number(values[key]);
    return Number.isFinite(parsed) ? parsed : Number(CONFIG_KEYS[key]?.defaultValue);
  };
  return {
    maxRetries: number("max-retries"),
    backoffBase: number("backoff-base"),
    backoffMaxSeconds: number("backoff-max"),
    pollIntervalMs: number("poll-interval") * 1000,
    jobTimeoutMs: number("job-timeout") * 1000,
    leaseMs: number("lease") * 1000,
    retentionMs:
      values.retention === "off" || values.retention === undefined ? null : number("retention") * 1000,
    retentionArchive:
      values["retention-archive"] === "off" || values["retention-archive"] === undefined
        ? null
        : values["retention-archive"],
    limits: storedLimits(values.limits),
  };
}

function storedLimits(text: string | undefined): ResourceLimits | null {
  try {
    return text === undefined ? null : parseLimitsText(text);
  } catch {
    return null;
  }
}

/** Renewals per lease window, so one slow write does not cost a job its lease. */
const RENEWALS_PER_LEASE = 4;

/**
 * How often a worker heartbeats and renews its leases: a quarter of the lease, from 0.2 s to
 * 5 s. Config changes, stop and kill requests reach a worker within the upper bound.
 */
export function heartbeatIntervalMs(config: QueueConfig): number {
  return Math.min(5_000, Math.max(200, config.leaseMs / RENEWALS_PER_LEASE));
}

/**
 * A worker whose heartbeat is older than this is shown as lost: three missed heartbeats,
 * and never under 10 s, so one slow write does not make a live worker look lost. It follows
 * the heartbeat, not the lease: a long lease must not make a dead worker look alive.
 * Its jobs are rescued when their leases expire, not by this.
 */
export function workerLostAfterMs(config: QueueConfig): number {
  return Math.max(10_000, 3 * heartbeatIntervalMs(config));
}

/** Whether a worker last heard from at `heartbeatAt` is lost at `now`, both on the store's clock. */
export function isWorkerLost(heartbeatAt: number, now: number, lostAfterMs: number): boolean {
  return now - heartbeatAt > lostAfterMs;
}
