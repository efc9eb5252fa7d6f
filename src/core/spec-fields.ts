/**
 * The job spec's fields, defined once: the normalized type, and per field what editors are
 * told (its description and JSON Schema). schema/jobfile.schema.json is generated from this
 * table (`bun run schema`, see jobfile-schema.ts), normalizeSpec refuses every key not in it,
 * and test/core/spec-schema.test.ts checks over a seeded fuzz corpus that the parser accepts
 * what the schema accepts. Rules no JSON Schema can state (a real calendar date, a cron
 * expression croner reads, a known time zone, the exec size limits) live in the parser only.
 */

import type { ResourceLimits } from "./resource-limits.ts";

/** `catchup`: missed occurrences. `latest` is the default and is left out of a normalized spec. */
export const CATCHUP_POLICIES = ["none", "latest", "all"] as const;
/** `overlap`: when the previous occurrence still runs. `skip` is the default, left out likewise. */
export const OVERLAP_POLICIES = ["allow", "skip", "replace"] as const;
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/**
 * A queue's name: one rule for job specs, `worker --queue` and the `queue` commands. A jobs
 * folder's namespace (`.queuectl.yaml`) follows it too.
 */
export const QUEUE_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
/** The most retries a job may have: its own `max_retries`, the config's, an import's. */
export const MAX_RETRIES = 1000;

export const MAX_ID_LENGTH = 255;

/** The normalized spec. Optional fields are absent, never null, so the revision ignores them. */
export interface JobSpec {
  id: string;
  command: string | string[];
  max_retries?: number;
  /** Seconds. Absent means the `job-timeout` config value at run time. */
  timeout?: number;
  priority?: number;
  /** ISO-8601 instant, normalized to UTC. */
  run_at?: string;
  /** Milliseconds after enqueue. */
  delay?: number;
  cwd?: string;
  env?: Record<string, string>;
  tags?: string[];
  queue?: string;
  /** Ids that must complete before this job may run. */
  after?: string[];
  /** A cron expression: the spec becomes a schedule whose occurrences are jobs of their own. */
  schedule?: string;
  timezone?: string;
  /** Missed occurrences: `latest` (default, absent), `none` or `all`. */
  catchup?: "none" | "all";
  /** When the previous occurrence still runs: `skip` (default, absent), `allow` or `replace`. */
  overlap?: "allow" | "replace";
  /** Webhooks told about this job's events, besides its queue's and the config's (src/core/notify.ts). */
  notify?: NotifyTarget[];
  /** Memory, CPU time and process limits; fields left out fall back to the queue's, then config's. */
  limits?: ResourceLimits;
}

/** completed: finished ok; failed: an attempt failed and will be retried; dead: moved to the DLQ. */
export const NOTIFY_EVENTS = ["completed", "failed", "dead"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** One receiver: a URL and the events it wants (default: all three). */
export interface NotifyTarget {
  url: string;
  events: NotifyEvent[];
}

/** A draft-07 JSON Schema fragment. */
export type JsonSchema = { [keyword: string]: unknown };

// Shared pieces of the fragments below. JSON Schema patterns carry no flags, and `\s`/`\S`
// match exactly what String.prototype.trim removes, so "not blank" reads as in the parser.
const NOT_BLANK = "(?=[\\s\\S]*\\S)";
const NO_NUL = "[^\\u0000]*";
/** C0 and C1 control characters, as a character class's ranges: they could rewrite a terminal. */
export const CONTROL_RANGES = "\\u0000-\\u001f\\u007f-\\u009f";
export const CONTROL_CHARACTERS = new RegExp(`[${CONTROL_RANGES}]`);
/**
 * Characters an id may not hold because they print as nothing or as another: bidi marks,
 * embeddings, overrides and isolates, zero-width characters and the BOM; the soft hyphen,
 * the combining grapheme joiner, variation selectors, Hangul fillers and the no-break space.
 */
export const INVISIBLE_RANGES =
  "\\u00a0\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0";
/**
 * The tag characters and the variation selectors supplement, written as UTF-16 pairs: JSON
 * Schema patterns carry no `u` flag, so a character class cannot hold them.
 */
export const INVISIBLE_PAIRS = "\\udb40[\\udc00-\\udc7f\\udd00-\\uddef]";
const PRINTABLE = `[^${CONTROL_RANGES}]*`;
/** PRINTABLE without the characters an id may not hold (spec.ts). */
const VISIBLE = `(?![\\s\\S]*${INVISIBLE_PAIRS})[^${CONTROL_RANGES}${INVISIBLE_RANGES}]*`;
const NON_BLANK_TEXT = { type: "string", pattern: `^${NOT_BLANK}` };
/** What parseDurationMs reads: seconds, or amounts with units. */
const DURATION_TEXT = "^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+)\\s*$";
const duration = (description: string, exclusiveMinimum: boolean): JsonSchema & { description: string } => ({
  description,
  oneOf: [
    {
      type: "number",
      ...(exclusiveMinimum ? { exclusiveMinimum: 0 } : { minimum: 0 }),
      description: "Seconds.",
    },
    {
      type: "string",
      // A timeout of zero is refused: some digit other than 0 must appear.
      pattern: exclusiveMinimum ? `(?=[\\s\\S]*[1-9])${DURATION_TEXT}` : DURATION_TEXT,
      description: "A number of seconds, or units: 250ms, 90s, 5m, 2h, 1h30m, 7d, 1w.",
    },
  ],
});

/** Every field a job may have, in the order `--help`, the schema and error hints list them. */
export const SPEC_FIELD_TABLE = {
  id: {
    description:
      "Unique across the queue. Default: the file's path in the folder without its extension (nightly/backup.yaml → nightly/backup); required when a file declares several jobs.",
    oneOf: [
      {
        type: "string",
        minLength: 1,
        maxLength: MAX_ID_LENGTH,
        // No leading "-" (commands would read it as an option), no white space at either end,
        // no control characters, and none of the invisible ones that make it print as another.
        pattern: `^(?![-\\s])(?![\\s\\S]*\\s$)${VISIBLE}$`,
      },
      { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      // `id:` with nothing after it: the same as leaving it out.
      { type: "null" },
    ],
  },
  command: {
    description:
      "A string runs through the shell (sh -c); a list runs the program directly, without a shell.",
    oneOf: [
      { type: "string", minLength: 1, pattern: `^${NOT_BLANK}${NO_NUL}$` },
      {
        type: "array",
        minItems: 1,
        items: [{ type: "string", minLength: 1, pattern: `^${NO_NUL}$` }],
        additionalItems: { type: "string", pattern: `^${NO_NUL}$` },
      },
    ],
  },
  max_retries: {
    description:
      "Retries after the first run; the job runs at most 1 + max_retries times, then goes to the DLQ. Default: the `max-retries` config (3).",
    type: "integer",
    minimum: 0,
    maximum: 1000,
  },
  timeout: duration(
    "How long one run may take before its process group is stopped (a failed attempt). Default: the `job-timeout` config (3600 s).",
    true,
  ),
  priority: {
    description: "Higher runs first; equal priorities run in order. Default 0.",
    type: "integer",
    minimum: -1000000,
    maximum: 1000000,
  },
  run_at: {
    description:
      "Not before this ISO-8601 time (a date, optionally with a time and an offset; at most 100 years ahead). Default: now. Cannot be combined with `delay`.",
    type: "string",
    pattern:
      "^\\s*\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])([Tt ]([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d+)?)?([Zz]|[+-]\\d{2}:?\\d{2})?)?\\s*$",
  },
  delay: duration(
    "Not before this long after it is queued. Default: none. Cannot be combined with `run_at`.",
    false,
  ),
  cwd: {
    description:
      "The working folder of the command; a relative one is taken from the jobfile's folder (from the worker's for a job enqueued otherwise). Default: the worker's.",
    type: "string",
    minLength: 1,
    pattern: `^${NO_NUL}$`,
  },
  env: {
    description: "Extra environment variables for the command. Default: none.",
    type: "object",
    propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
    additionalProperties: { type: ["string", "number", "boolean"], pattern: `^${NO_NUL}$` },
  },
  tags: {
    description: "Labels for filtering (`queuectl list --tag`). Default: none.",
    type: "array",
    items: { type: "string", minLength: 1, pattern: `^${NOT_BLANK}${PRINTABLE}$` },
  },
  queue: {
    description: "A named queue with its own concurrency limit and pause switch. Default: default.",
    type: "string",
    pattern: QUEUE_NAME_PATTERN,
  },
  after: {
    description: "Ids of jobs that must complete before this one may run (never its own id). Default: none.",
    oneOf: [
      { ...NON_BLANK_TEXT, minLength: 1 },
      { type: "array", items: { ...NON_BLANK_TEXT, minLength: 1 } },
    ],
  },
  schedule: {
    description:
      "A cron expression (5 or 6 fields, or @daily and the like): the job recurs, each occurrence a job of its own. Cannot be combined with run_at, delay or after.",
    ...NON_BLANK_TEXT,
    minLength: 1,
  },
  timezone: {
    description:
      "The IANA time zone `schedule` is read in, e.g. Europe/Berlin. Default: UTC. Only with `schedule`.",
    ...NON_BLANK_TEXT,
    minLength: 1,
  },
  catchup: {
    description: "Occurrences missed while nothing ran: none, latest (default) or all. Only with `schedule`.",
    enum: [...CATCHUP_POLICIES],
  },
  overlap: {
    description:
      "When the previous occurrence still runs: allow, skip (default) or replace. Only with `schedule`.",
    enum: [...OVERLAP_POLICIES],
  },
  notify: {
    description:
      "Webhooks told when the job completes, fails and will be retried, or goes to the DLQ; besides its queue's and the `notify` config's. Default: none.",
    type: "array",
    maxItems: 20,
    items: {
      oneOf: [
        { type: "string", pattern: "^https?://" },
        {
          type: "object",
          properties: {
            url: {
              description: "An http or https URL; it receives a signed JSON POST per event.",
              type: "string",
              pattern: "^https?://",
            },
            events: {
              description: "Which events: completed, failed, dead. Default: all three.",
              type: "array",
              minItems: 1,
              items: { enum: [...NOTIFY_EVENTS] },
            },
          },
          required: ["url"],
          additionalProperties: false,
        },
      ],
    },
  },
  limits: {
    description:
      "Resource limits of each attempt. Fields left out fall back to the queue's limits, then the `limits` config key (default: none).",
    type: "object",
    properties: {
      memory: {
        description: "Memory of the whole job, e.g. 256M or 1G (K, M, G are powers of 1024).",
        type: ["string", "integer"],
        pattern: "^\\s*\\d+(\\.\\d+)?\\s*[KMGkmg]?(i?[Bb])?\\s*$",
      },
      cpu_time: {
        description: "CPU time of each process, e.g. 10m; at least 1s.",
        type: ["string", "number"],
      },
      processes: {
        description: "Processes the job may have at once.",
        type: "integer",
        minimum: 1,
      },
    },
    additionalProperties: false,
  },
  state: {
    description:
      "Accepted for compatibility with the original tool; only `pending` is allowed, and it changes nothing.",
    enum: ["pending"],
  },
} as const satisfies Record<string, JsonSchema & { description: string }>;

export type SpecField = keyof typeof SPEC_FIELD_TABLE;
export const SPEC_FIELDS = Object.keys(SPEC_FIELD_TABLE) as readonly SpecField[];

/** Each field's place in SPEC_FIELDS. */
const FIELD_PLACES = new Map<string, number>(SPEC_FIELDS.map((key, index) => [key, index]));

/**
 * Whether `spec` already has inSpecFieldOrder's order, so needs no copy: a job of a bulk
 * enqueue nearly always does, and copying it cost a tenth of its checks. `env` is always
 * copied, since its own keys are put in order too.
 */
function isInSpecFieldOrder(spec: Record<string, unknown>): boolean {
  let last = -1;
  for (const key in spec) {
    const place = FIELD_PLACES.get(key);
    if (place === undefined || place <= last || key === "env") return false;
    last = place;
  }
  return true;
}

/** Fields that apply only to a job with a `schedule`. */
export const SCHEDULE_ONLY_FIELDS = [
  "timezone",
  "catchup",
  "overlap",
] as const satisfies readonly SpecField[];
/** Fields a job with a `schedule` cannot have: the schedule decides when each occurrence runs. */
export const NOT_WITH_SCHEDULE = ["run_at", "delay"] as const satisfies readonly SpecField[];

/**
 * `spec` with its keys in SPEC_FIELDS order (and `env`'s sorted), whatever order they were
 * written or handed back in: normalizeSpec stores this order, and rows.ts puts PostgreSQL's
 * jsonb (shortest key first) back in it, so every store shows a spec alike.
 */
export function inSpecFieldOrder<T extends object>(spec: T): T {
  const from = spec as Record<string, unknown>;
  if (isInSpecFieldOrder(from)) return spec;
  const ordered: Record<string, unknown> = {};
  for (const key of SPEC_FIELDS) {
    if (!(key in from)) continue;
    const value = from[key];
    ordered[key] =
      key === "env" && value !== null && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : value;
  }
  for (const key of Object.keys(from)) if (!(key in ordered)) ordered[key] = from[key];
  return ordered as T;
}
