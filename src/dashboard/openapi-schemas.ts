/**
 * The JSON shapes of `/api/…`, for the OpenAPI document. They are the CLI's `--json`
 * shapes (render.ts), so each schema names the command whose output it is.
 */

import { JOB_STATES } from "../core/job.ts";
import { NOTIFY_EVENTS } from "../core/notify.ts";

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, "null"], ...extra });
const time = { type: ["string", "null"], format: "date-time" };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (name: string) => ({ type: "array", items: ref(name) });

const stateCounts = {
  type: "object",
  required: [...JOB_STATES, "total"],
  properties: Object.fromEntries([...JOB_STATES, "total"].map((state) => [state, { type: "integer" }])),
};

/** A job's fields as `list --json` prints them; `show --json` has them too, but for `attempts`. */
const jobProperties = {
  id: { type: "string" },
  command: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
  state: ref("JobState"),
  attempts: { type: "integer", description: "Attempts so far." },
  max_retries: { type: "integer" },
  priority: { type: "integer" },
  queue: { type: "string" },
  tags: { type: "array", items: { type: "string" } },
  timeout: nullable("number"),
  cwd: nullable("string"),
  env: { type: "object", additionalProperties: { type: "string" } },
  created_at: time,
  updated_at: time,
  next_run_at: time,
  started_at: time,
  finished_at: time,
  worker_id: nullable("string"),
  lease_until: time,
  exit_code: nullable("integer"),
  last_error: nullable("string"),
  source: nullable("string", { description: "The jobfile that declares it; null for ad hoc jobs." }),
  revision: { type: "string" },
  progress_pct: nullable("number", { description: "The last progress reported (0–100); null for none." }),
  progress_message: nullable("string"),
};

/**
 * `show --json` spreads the job and then replaces `attempts` (a count in `list`) with the
 * list of attempts, moving the count to `attempt_count`: so its own properties, not an
 * `allOf` with Job, whose integer `attempts` no detail could satisfy.
 */
const { attempts: _count, ...detailJobProperties } = jobProperties;
const jobDetailProperties = {
  ...detailJobProperties,
  spec: { type: "object", description: "The normalized spec (see schema/jobfile.schema.json)." },
  attempt_count: { type: "integer", description: "Attempts so far: `attempts` in `list --json`." },
  attempts: arrayOf("Attempt"),
  result: { description: "The JSON the last finished attempt wrote to $QUEUECTL_RESULT, or null." },
  webhooks: arrayOf("WebhookDelivery"),
};

export const SCHEMAS = {
  Error: {
    type: "object",
    description: "A refusal, as the CLI's one-line `error: <error> — <hint>`.",
    required: ["error", "hint"],
    properties: { error: { type: "string" }, hint: { type: "string" } },
  },
  JobState: { type: "string", enum: [...JOB_STATES] },
  Job: {
    type: "object",
    description: "A job as `queuectl list --json` prints it.",
    required: Object.keys(jobProperties),
    properties: jobProperties,
  },
  Attempt: {
    type: "object",
    required: [
      "attempt",
      "token",
      "worker_id",
      "host",
      "started_at",
      "finished_at",
      "duration_ms",
      "exit_code",
      "signal",
      "error",
      "stdout_bytes",
      "stderr_bytes",
      "revision",
    ],
    properties: {
      attempt: { type: "integer" },
      token: { type: "integer", description: "The #n `show` lists; `logs --attempt n`." },
      worker_id: nullable("string"),
      host: nullable("string"),
      started_at: time,
      finished_at: time,
      duration_ms: nullable("integer"),
      exit_code: nullable("integer"),
      signal: nullable("string"),
      error: nullable("string"),
      stdout_bytes: { type: "integer" },
      stderr_bytes: { type: "integer" },
      revision: nullable("string"),
      limits: nullable("string", {
        description: 'The resource limits that applied, e.g. "memory 256 MB (cgroup v2)"; absent for none.',
      }),
    },
  },
  JobDetail: {
    type: "object",
    description: "A job as `queuectl show <id> --json` prints it.",
    required: Object.keys(jobDetailProperties),
    properties: jobDetailProperties,
  },
  WebhookDelivery: {
    type: "object",
    description: "One event for one URL; times are milliseconds since the epoch.",
    required: ["id", "job_id", "token", "event", "url", "status", "attempts"],
    properties: {
      id: { type: "integer" },
      job_id: { type: "string" },
      token: { type: "integer", description: "The attempt (#n) whose end it announces." },
      event: { type: "string", enum: [...NOTIFY_EVENTS] },
      url: { type: "string" },
      status: { type: "string", enum: ["pending", "delivered", "gave_up"] },
      attempts: { type: "integer", description: "Tries so far." },
      created_at: { type: "string", format: "date-time" },
      next_attempt_at: { type: "string", format: "date-time" },
      delivered_at: time,
      last_status: nullable("integer"),
      last_error: nullable("string"),
    },
  },
  JobLog: {
    type: "object",
    properties: {
      id: { type: "string" },
      attempts: {
        type: "array",
        items: {
          type: "object",
          properties: {
            attempt: { type: "integer" },
            token: { type: "integer" },
            host: nullable("string"),
            running: { type: "boolean" },
            live: { type: "boolean", description: "Read from this host's log files while the attempt runs." },
            output_tail: nullable("string"),
          },
        },
      },
    },
  },
  JobDependencies: {
    type: "object",
    properties: {
      id: { type: "string" },
      upstream: { type: "array", items: ref("JobLink") },
      downstream: { type: "array", items: ref("JobLink") },
      downstream_total: { type: "integer" },
    },
  },
  JobLink: {
    type: "object",
    properties: { id: { type: "string" }, state: { oneOf: [ref("JobState"), { type: "null" }] } },
  },
  JobInput: {
    description:
      "What `queuectl enqueue -f` reads: one job spec, an array of them, or `{ jobs: [...] }` (in YAML also a multi-document stream; in NDJSON one spec per line). The fields are those of schema/jobfile.schema.json; `id` is generated when omitted.",
    oneOf: [
      {
        type: "object",
        properties: { jobs: { type: "array", items: { type: "object" } } },
        required: ["jobs"],
      },
      { type: "array", items: { type: "object" } },
      { type: "object", required: ["command"] },
    ],
  },
  EnqueueResult: {
    type: "object",
    description: "As `queuectl enqueue --json`: jobs first, then schedules.",
    properties: {
      enqueued: { type: "integer" },
      ids: { type: "array", items: { type: "string" } },
      schedules: { type: "array", items: { type: "string" } },
      canceled: {
        type: "array",
        items: { type: "string" },
        description:
          "Jobs canceled as they were queued: a job they wait on had already ended dead or canceled.",
      },
    },
  },
  Retried: { type: "object", properties: { retried: { type: "array", items: { type: "string" } } } },
  Canceled: { type: "object", properties: { canceled: { type: "string" } } },
  Rerun: { type: "object", properties: { rerun: { type: "string" } } },
  Killed: {
    type: "object",
    properties: {
      killed: { type: "string" },
      result: {
        type: "string",
        enum: ["canceled", "requested", "orphaned"],
        description:
          "`canceled`: it had not started; `requested`: its worker stops it at its next heartbeat; `orphaned`: its worker is gone, and the job ends when it is rescued.",
      },
      worker_id: { type: "string" },
    },
  },
  QueueSwitch: { type: "object", properties: { queue: { type: "string" }, paused: { type: "boolean" } } },
  Queue: {
    type: "object",
    description: "As `queuectl queue list --json`.",
    properties: {
      name: { type: "string" },
      concurrency: nullable("integer"),
      paused: { type: "boolean" },
      counts: stateCounts,
    },
  },
  Worker: {
    type: "object",
    required: [
      "id",
      "host",
      "pid",
      "started_at",
      "heartbeat_at",
      "heartbeat_age_ms",
      "alive",
      "stop_requested",
      "queues",
    ],
    properties: {
      id: { type: "string" },
      host: { type: "string" },
      pid: { type: "integer" },
      started_at: time,
      heartbeat_at: time,
      heartbeat_age_ms: { type: "integer" },
      alive: { type: "boolean" },
      stop_requested: { type: "boolean" },
      queues: { type: ["array", "null"], items: { type: "string" } },
    },
  },
  Running: {
    type: "object",
    description: "A job a worker runs now, as `status --json` lists it.",
    required: ["worker_id", "id", "command", "started_at", "running_ms", "progress_pct", "progress_message"],
    properties: {
      worker_id: { type: "string" },
      id: { type: "string" },
      command: { type: "string" },
      started_at: time,
      running_ms: { type: "integer" },
      progress_pct: nullable("number"),
      progress_message: nullable("string"),
    },
  },
  Folder: {
    type: "object",
    description: "A jobs folder with its last sync and its watchers, as `status --json` lists it.",
    required: ["folder", "last_sync", "watchers"],
    properties: {
      folder: { type: "string" },
      last_sync: {
        type: ["object", "null"],
        properties: {
          at: time,
          age_ms: { type: "integer" },
          by: { type: "string", enum: ["sync", "watch"] },
          host: { type: "string" },
          pid: { type: "integer" },
          target: { type: "string" },
          files: { type: "integer" },
          created: { type: "integer" },
          updated: { type: "integer" },
          canceled: { type: "integer" },
          unchanged: { type: "integer" },
          problems: { type: "integer" },
          problem_list: {
            type: "array",
            items: {
              type: "object",
              properties: {
                file: { type: "string" },
                line: { type: "integer" },
                column: { type: "integer" },
                message: { type: "string" },
              },
            },
          },
        },
      },
      watchers: {
        type: "array",
        items: {
          type: "object",
          properties: {
            host: { type: "string" },
            pid: { type: "integer" },
            alive: { type: "boolean" },
            started_at: time,
            heartbeat_age_ms: { type: "integer" },
            last_error: nullable("string"),
            last_error_at: time,
          },
        },
      },
    },
  },
  Status: {
    type: "object",
    description: "As `queuectl status --json`.",
    required: ["jobs", "workers", "running", "folders", "config"],
    properties: {
      jobs: stateCounts,
      workers: arrayOf("Worker"),
      running: arrayOf("Running"),
      folders: arrayOf("Folder"),
      config: {
        type: "object",
        description:
          "Every config key as `config get --json` gives it: numbers (durations in seconds), `notify` a list, `limits` an object (null for none), the rest as text.",
        properties: {
          notify: {
            type: "array",
            items: {
              type: "object",
              required: ["url", "events"],
              properties: {
                url: { type: "string" },
                events: { type: "array", items: { type: "string", enum: [...NOTIFY_EVENTS] } },
              },
            },
          },
          limits: {
            type: ["object", "null"],
            description: 'As typed, e.g. {"memory": "256M", "cpu_time": "10m", "processes": 100}.',
            properties: {
              memory: { type: ["string", "integer"] },
              cpu_time: { type: "string" },
              processes: { type: "integer" },
            },
          },
        },
        additionalProperties: { type: ["number", "string"] },
      },
    },
  },
  Schedule: {
    type: "object",
    description: "As `queuectl schedule list --json`.",
    properties: {
      id: { type: "string" },
      command: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
      schedule: { type: "string" },
      timezone: { type: "string" },
      catchup: { type: "string" },
      overlap: { type: "string" },
      next_run_at: time,
      last_fired_at: time,
      source: nullable("string"),
      revision: { type: "string" },
    },
  },
  Throughput: {
    type: "object",
    properties: {
      bucket_seconds: { type: "integer" },
      buckets: {
        type: "array",
        items: {
          type: "object",
          properties: {
            start: { type: "string", format: "date-time" },
            completed: { type: "integer" },
            failed: { type: "integer" },
          },
        },
      },
    },
  },
  Sync: {
    type: "object",
    description: "Jobfile folders with their last sync and watchers, and the declared jobs by file.",
    required: ["folders", "sources"],
    properties: { folders: arrayOf("Folder"), sources: { type: "array", items: { type: "object" } } },
  },
} as const;
