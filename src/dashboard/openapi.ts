/**
 * `GET /api/openapi.json`: the OpenAPI 3.1 description of the dashboard's HTTP API.
 *
 * Written by hand rather than derived from the route table, so that
 * test/dashboard/openapi.test.ts can hold one against the other (and against the real
 * server's answers) instead of comparing a table with itself.
 */

import { JOB_STATES } from "../core/job.ts";
import { ENQUEUE_MEDIA_TYPES, MAX_ENQUEUE_BYTES } from "./enqueue.ts";
import { MAX_FILTERED_OFFSET, MAX_PAGE } from "./job-list.ts";
import { SCHEMAS } from "./openapi-schemas.ts";

type Json = Record<string, unknown>;

const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (description: string, body: Json) => ({
  description,
  content: { "application/json": { schema: body } },
});
const refusal = (description: string) => jsonBody(description, schema("Error"));

/** Answers every token-guarded route may give besides its own. */
const GUARDED = {
  401: { $ref: "#/components/responses/NoToken" },
  403: { $ref: "#/components/responses/Forbidden" },
  500: { $ref: "#/components/responses/Internal" },
  503: { $ref: "#/components/responses/StoreUnavailable" },
};

function read(operationId: string, summary: string, responses: Json, extra: Json = {}): Json {
  return { get: { operationId, summary, ...extra, responses: { ...responses, ...GUARDED } } };
}

/** A mutating route: the token in a header, as for every route. */
function write(operationId: string, summary: string, responses: Json, extra: Json = {}): Json {
  return {
    post: {
      operationId,
      summary,
      description:
        "Mutating. The token travels in a header, which another site's page cannot add, so no other site can make a browser call it; with --no-token it must come from the dashboard's own origin.",
      ...extra,
      responses: { ...responses, ...GUARDED },
    },
  };
}

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The job id, percent-encoded as one segment: `nightly/backup` is `nightly%2Fbackup`.",
  schema: { type: "string" },
};
const queueParam = { name: "name", in: "path", required: true, schema: { type: "string" } };
const noJob = refusal("No job with that id.");
const refused = refusal("The job's state does not allow the move; nothing changed.");
const badQuery = refusal(
  "A query parameter is unknown, repeated, malformed or out of range; the message names it.",
);

function move(operationId: string, summary: string, answer: string): Json {
  return write(
    operationId,
    summary,
    { 200: jsonBody("Moved.", schema(answer)), 404: noJob, 409: refused },
    {
      parameters: [idParam],
    },
  );
}

function queueSwitch(verb: "pause" | "resume"): Json {
  return write(
    `queue${verb === "pause" ? "Pause" : "Resume"}`,
    verb === "pause"
      ? "`queue pause <name>`: stop claiming its jobs (running ones finish)"
      : "`queue resume <name>`: claim its jobs again",
    {
      200: jsonBody("Switched.", schema("QueueSwitch")),
      404: refusal("No queue of that name: the dashboard never creates one."),
    },
    { parameters: [queueParam] },
  );
}

const PATHS: Json = {
  "/metrics": read("metrics", "Prometheus metrics", {
    200: {
      description: "Prometheus text format 0.0.4.",
      content: { "text/plain": { schema: { type: "string" } } },
    },
  }),
  "/api/openapi.json": read("openapi", "This document", {
    200: jsonBody("OpenAPI 3.1.", { type: "object" }),
  }),
  "/api/status": read(
    "status",
    "`status --json`: job counts, workers, running jobs, jobfile folders, config",
    {
      200: jsonBody("Status.", schema("Status")),
    },
  ),
  "/api/workers": read("workers", "The workers of `status --json`", {
    200: jsonBody("Workers.", { type: "array", items: schema("Worker") }),
  }),
  "/api/throughput": read(
    "throughput",
    "Finished attempts per minute",
    { 200: jsonBody("Every minute of the window, oldest first.", schema("Throughput")), 400: badQuery },
    {
      parameters: [
        {
          name: "minutes",
          in: "query",
          description: "The window (default 60, at most 1440).",
          schema: { type: "integer", minimum: 1, maximum: 1440, default: 60 },
        },
      ],
    },
  ),
  "/api/sync": read("sync", "Jobfile folders, their syncs and watchers", {
    200: jsonBody("Sync.", schema("Sync")),
  }),
  "/api/schedules": read("schedules", "`schedule list --json`", {
    200: jsonBody("Schedules.", { type: "array", items: schema("Schedule") }),
  }),
  "/api/queues": read("queues", "`queue list --json`", {
    200: jsonBody("Queues.", { type: "array", items: schema("Queue") }),
  }),
  "/api/queues/{name}/pause": queueSwitch("pause"),
  "/api/queues/{name}/resume": queueSwitch("resume"),
  "/api/events": read("events", "Server-Sent Events: a `status --json` body on every change", {
    200: {
      description: "An event stream.",
      content: { "text/event-stream": { schema: { type: "string" } } },
    },
  }),
  "/api/login": {
    post: {
      operationId: "login",
      summary: "The page's sign-in: trades the token typed into its form for a session key",
      description:
        "Only from the dashboard's own origin. The key is valid until the dashboard process ends; the page keeps it in its origin's storage and sends it as `Authorization: Bearer`. No cookie holds either, since browsers send a host's cookies to every port.",
      security: [],
      requestBody: {
        content: {
          "application/json": { schema: { type: "object", properties: { token: { type: "string" } } } },
        },
      },
      responses: {
        200: jsonBody("The token is right; `session` is the key to send from now on.", {
          type: "object",
          properties: { ok: { type: "boolean" }, session: { type: "string" } },
        }),
        401: { $ref: "#/components/responses/NoToken" },
        403: { $ref: "#/components/responses/Forbidden" },
        500: { $ref: "#/components/responses/Internal" },
      },
    },
  },
  "/api/dlq/retry": write("dlqRetryAll", "`dlq retry --all`: every dead job back to pending", {
    200: jsonBody("The retried ids.", schema("Retried")),
  }),
  "/api/jobs": {
    ...read(
      "listJobs",
      "`list`: jobs, newest first, a page at a time",
      { 200: jsonBody("A page of jobs.", { type: "array", items: schema("Job") }), 400: badQuery },
      {
        description: `Ask for one more than you show to learn whether a next page exists. With \`queue\` or several states, \`offset\` goes up to ${MAX_FILTERED_OFFSET}; \`q\` then cannot be used.`,
        parameters: [
          {
            name: "state",
            in: "query",
            description: "Only these states: repeat it or separate them with commas (default: all).",
            schema: { type: "array", items: { type: "string", enum: [...JOB_STATES] } },
            style: "form",
            explode: true,
          },
          {
            name: "queue",
            in: "query",
            description: "Only these queues: repeat it or separate them with commas (default: all).",
            schema: { type: "array", items: { type: "string" } },
            style: "form",
            explode: true,
          },
          {
            name: "tag",
            in: "query",
            description:
              "Only jobs with any of these tags: repeat it or separate them with commas (default: all).",
            schema: { type: "array", items: { type: "string" } },
            style: "form",
            explode: true,
          },
          {
            name: "q",
            in: "query",
            description: "Only ids containing this text, case-insensitive (default: all).",
            schema: { type: "string" },
          },
          {
            name: "limit",
            in: "query",
            description: `At most this many jobs (default 50, at most ${MAX_PAGE}).`,
            schema: { type: "integer", minimum: 1, maximum: MAX_PAGE, default: 50 },
          },
          {
            name: "offset",
            in: "query",
            description: "Skip this many (default 0).",
            schema: { type: "integer", minimum: 0, default: 0 },
          },
        ],
      },
    ),
    ...write(
      "enqueueJobs",
      "`enqueue -f`: one job or a batch, all or nothing",
      {
        201: jsonBody("Enqueued.", schema("EnqueueResult")),
        400: refusal(
          "Input `queuectl enqueue -f` refuses with exit 2 (invalid spec, repeated or taken id, dependency cycle), with its message naming the request body; nothing was enqueued.",
        ),
        413: refusal(`The body is over ${MAX_ENQUEUE_BYTES} bytes.`),
        415: refusal("The content-type is not one listed."),
      },
      {
        requestBody: {
          required: true,
          content: Object.fromEntries(
            ENQUEUE_MEDIA_TYPES.map((type) => [type, { schema: schema("JobInput") }]),
          ),
        },
      },
    ),
  },
  "/api/jobs/{id}": read(
    "showJob",
    "`show <id> --json`: the job, its spec and every attempt",
    { 200: jsonBody("The job.", schema("JobDetail")), 404: noJob },
    { parameters: [idParam] },
  ),
  "/api/jobs/{id}/log": read(
    "jobLog",
    "`logs`: the tail of each attempt's output",
    {
      200: jsonBody("Output tails, live from this host's files while an attempt runs.", schema("JobLog")),
      404: noJob,
    },
    { parameters: [idParam] },
  ),
  "/api/jobs/{id}/dependencies": read(
    "jobDependencies",
    "What the job waits for (`after`) and what waits for it",
    { 200: jsonBody("Links.", schema("JobDependencies")), 404: noJob },
    { parameters: [idParam] },
  ),
  "/api/jobs/{id}/kill": write(
    "killJob",
    "`kill <id>`: cancel it if waiting, stop it on its worker if running",
    {
      200: jsonBody("Killed or requested; the answer does not wait for the worker.", schema("Killed")),
      400: badQuery,
      404: noJob,
      409: refusal("The job already ended; nothing changed."),
    },
    {
      parameters: [
        idParam,
        {
          name: "retry",
          in: "query",
          description:
            "`kill --retry`: count the stopped attempt as failed, so the retry rules apply (default false).",
          schema: { type: "boolean", default: false },
        },
      ],
    },
  ),
  "/api/jobs/{id}/retry": move(
    "retryJob",
    "`dlq retry <id>`: a dead job back to pending, attempts reset",
    "Retried",
  ),
  "/api/jobs/{id}/cancel": move("cancelJob", "`cancel <id>`: cancel a pending or failed job", "Canceled"),
  "/api/jobs/{id}/rerun": move("rerunJob", "`rerun <id>`: run a finished job again, attempts reset", "Rerun"),
};

export function openApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "queuectl dashboard API",
      version: "1",
      description:
        "The JSON API of `queuectl dashboard`. Bodies are the CLI's `--json` shapes. Every route needs the dashboard's token; mutating routes must also not come from another site (see each).",
    },
    security: [{ bearer: [] }, { tokenHeader: [] }],
    paths: PATHS,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <token>`." },
        tokenHeader: { type: "apiKey", in: "header", name: "X-Queuectl-Token" },
      },
      responses: {
        NoToken: refusal("No token, or a wrong one."),
        Forbidden: refusal(
          "A sign-in from another origin, or (with --no-token) a mutating request from another origin or a Host that is not loopback.",
        ),
        Internal: refusal("An internal error; the dashboard's stderr says more."),
        StoreUnavailable: refusal("The store cannot answer (unreachable, locked, …)."),
      },
      schemas: SCHEMAS,
    },
  };
}
