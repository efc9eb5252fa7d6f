/**
 * The JSON shapes of `/api/…`, for the OpenAPI document. They are the CLI's `--json`
 * shapes (render.ts), so each schema names the command whose output it is.
 */

import { JOB_STATES } from "../core/job.ts";

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, "null"], ...extra });
const time = { type: ["string", "null"], format: "date-time" };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (name: string) => ({ type: "array", items: ref(name) });

const stateCounts = {
  type: "object",
  properties: Object.fromEntries([...JOB_STATES, "total"].map((state) => [state, { type: "integer" }])),
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
    properties: {
      id: { type: "string" },
      command: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
      state: ref("JobState"),
      attempts: { type: "integer" },
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
    },
  },
  Attempt: {
    type: "object",
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
    },
  },
  JobDetail: {
    description: "A job as `queuectl show <id> --json` prints it.",
    allOf: [
      ref("Job"),
      {
        type: "object",
        properties: {
          spec: { type: "object", description: "The normalized spec (see schema/jobfile.schema.json)." },
          attempt_count: { type: "integer" },
          attempts: arrayOf("Attempt"),
        },
      },
    ],
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
  Status: {
    type: "object",
    description: "As `queuectl status --json`.",
    properties: {
      jobs: stateCounts,
      workers: arrayOf("Worker"),
      config: { type: "object", additionalProperties: { type: ["number", "string"] } },
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
  },
} as const;
