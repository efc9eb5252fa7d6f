/**
 * Every route of the dashboard's server, as one table: the router dispatches from it, and
 * test/dashboard/openapi.test.ts holds it against the OpenAPI document, so neither can
 * gain a route the other lacks.
 *
 * Paths are templates: `{name}` matches one path segment, percent-decoded on its own, so a
 * job id holding `/` (a jobfile id such as `nightly/backup`) travels as `nightly%2Fbackup`.
 */

import type { Server } from "bun";
import type { Store } from "../store/store.ts";
import { killJob, moveJob, retryAllDead, setQueuePaused } from "./actions.ts";
import * as api from "./api.ts";
import { enqueueJobs, MAX_ENQUEUE_BYTES, tooLarge } from "./enqueue.ts";
import type { StatusFeed } from "./events.ts";
import { jobs } from "./job-list.ts";
import type { LiveOutputSource } from "./live-output.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { MonotonicSeries } from "./monotonic.ts";
import { openApiDocument } from "./openapi.ts";
import { answering, BadQuery, checkQuery, flagParam, type QueryParams } from "./query-params.ts";
import { json, problem } from "./responses.ts";
import { type AccessPolicy, login } from "./security.ts";
import { syncState } from "./sync-state.ts";

export interface RouteDeps {
  store: Store;
  /** The store's clock (PostgreSQL's server), for what a request writes or measures against stored times. */
  clock: () => number;
  logs: LiveOutputSource;
  policy: AccessPolicy;
  feed: StatusFeed;
  series: MonotonicSeries;
}

export interface RouteContext {
  request: Request;
  url: URL;
  /** The template's `{name}` segments, decoded. */
  params: Record<string, string>;
  server: Server<undefined>;
  deps: RouteDeps;
}

/**
 * `read`: a GET that needs the token. `write`: a POST that needs the token and must not be
 * callable cross-site (see security.ts). `login`: the page's sign-in, a write without the token.
 */
export type RouteKind = "read" | "write" | "login";

export interface Route {
  method: "GET" | "POST";
  path: string;
  kind: RouteKind;
  /** The statuses the handler answers with; the access and failure statuses come from `kind`. */
  statuses: number[];
  /**
   * The query parameters it reads; any other is a 400 (so the route's statuses include 400).
   * Absent: it reads none, and ignores a query string.
   */
  query?: QueryParams;
  handle: (context: RouteContext) => Promise<Response> | Response;
}

/** What any route may answer besides its own statuses: refused access, or a store that cannot answer. */
export const KIND_STATUSES: Record<RouteKind, number[]> = {
  read: [401, 403, 500, 503],
  write: [401, 403, 500, 503],
  login: [401, 403, 500],
};

export function routeStatuses(route: Route): number[] {
  return [...new Set([...route.statuses, ...KIND_STATUSES[route.kind]])].sort();
}

/** The largest sign-in body read: a token is far shorter, so a longer body holds none. */
const MAX_LOGIN_BYTES = 64 * 1024;

/**
 * The request with its body read into memory, or null when the body is over `max` bytes.
 * A Content-Length over `max` is refused unread; a body without one (chunked) is read only
 * up to `max`, so no client makes the server hold more than that.
 */
export async function boundedRequest(request: Request, max: number): Promise<Request | null> {
  if (Number(request.headers.get("content-length") ?? 0) > max) return null;
  const reader = request.body?.getReader();
  if (!reader) return request;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const { method, headers } = request;
  return new Request(request.url, { method, headers, body: Buffer.concat(chunks) });
}

/**
 * What a path segment holding a NUL answers, without asking the store: enqueue refuses
 * such ids, so none exists, and PostgreSQL fails on the question rather than saying no.
 */
const UNNAMED: Record<string, (value: string) => Response> = {
  id: (id) => problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue"),
  name: (name) => problem(404, `no queue named "${name}"`, "see GET /api/queues for the queues"),
};

/**
 * Null when the path and query fit the route, else the refusal: a 404 for a path
 * parameter naming what cannot exist, a 400 naming a bad query parameter.
 */
export function refuseInput(
  route: Route,
  params: Record<string, string>,
  query: URLSearchParams,
): Response | null {
  for (const [name, value] of Object.entries(params)) {
    if (value.includes("\0")) {
      return UNNAMED[name]?.(value) ?? problem(404, `no such ${name}`, "see GET /api/openapi.json");
    }
  }
  if (route.query === undefined) return null;
  try {
    checkQuery(query, route.query);
    return null;
  } catch (error) {
    if (error instanceof BadQuery) return problem(400, error.message, error.hint);
    throw error;
  }
}

const move = (name: "retry" | "cancel" | "rerun"): Route => ({
  method: "POST",
  path: `/api/jobs/{id}/${name}`,
  kind: "write",
  statuses: [200, 404, 409],
  handle: ({ params, deps }) => moveJob(deps.store, params.id ?? "", name, deps.clock()),
});

/** A read of one job: 404 when there is no such job. */
const jobRead = (suffix: string, answer: (deps: RouteDeps, id: string) => Promise<Response>): Route => ({
  method: "GET",
  path: `/api/jobs/{id}${suffix}`,
  kind: "read",
  statuses: [200, 404],
  handle: ({ params, deps }) => answer(deps, params.id ?? ""),
});

const queueSwitch = (verb: "pause" | "resume"): Route => ({
  method: "POST",
  path: `/api/queues/{name}/${verb}`,
  kind: "write",
  statuses: [200, 404],
  handle: ({ params, deps }) => setQueuePaused(deps.store, params.name ?? "", verb === "pause"),
});

export const ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: "/metrics",
    kind: "read",
    statuses: [200],
    handle: async ({ deps }) =>
      new Response(await renderMetrics(deps.store, deps.clock(), deps.series), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      }),
  },
  {
    method: "GET",
    path: "/api/openapi.json",
    kind: "read",
    statuses: [200],
    handle: () => json(openApiDocument()),
  },
  {
    method: "GET",
    path: "/api/status",
    kind: "read",
    statuses: [200],
    handle: ({ deps }) => api.status(deps.store),
  },
  {
    method: "GET",
    path: "/api/workers",
    kind: "read",
    statuses: [200],
    handle: ({ deps }) => api.workers(deps.store),
  },
  {
    method: "GET",
    path: "/api/throughput",
    kind: "read",
    statuses: [200, 400],
    query: { minutes: "one" },
    handle: ({ url, deps }) => api.throughput(deps.store, url.searchParams, deps.clock()),
  },
  {
    method: "GET",
    path: "/api/sync",
    kind: "read",
    statuses: [200],
    handle: ({ deps }) => syncState(deps.store),
  },
  {
    method: "GET",
    path: "/api/schedules",
    kind: "read",
    statuses: [200],
    handle: ({ deps }) => api.schedules(deps.store),
  },
  {
    method: "GET",
    path: "/api/queues",
    kind: "read",
    statuses: [200],
    handle: ({ deps }) => api.queues(deps.store),
  },
  queueSwitch("pause"),
  queueSwitch("resume"),
  {
    method: "GET",
    path: "/api/events",
    kind: "read",
    statuses: [200],
    handle: ({ request, server, deps }) => {
      server.timeout(request, 0); // a stream is idle between events by design
      return deps.feed.stream();
    },
  },
  {
    method: "POST",
    path: "/api/login",
    kind: "login",
    statuses: [200],
    handle: async ({ request, deps }) => {
      const bounded = await boundedRequest(request, MAX_LOGIN_BYTES);
      const body = (await bounded?.json().catch(() => null)) as { token?: unknown } | null | undefined;
      return login(body?.token, deps.policy);
    },
  },
  {
    method: "POST",
    path: "/api/dlq/retry",
    kind: "write",
    statuses: [200],
    handle: ({ deps }) => retryAllDead(deps.store, deps.clock()),
  },
  {
    method: "GET",
    path: "/api/jobs",
    kind: "read",
    statuses: [200, 400],
    query: { state: "many", queue: "many", tag: "many", q: "one", limit: "one", offset: "one" },
    handle: ({ url, deps }) => jobs(deps.store, url.searchParams),
  },
  {
    method: "POST",
    path: "/api/jobs",
    kind: "write",
    statuses: [201, 400, 413, 415],
    handle: async ({ request, deps }) => {
      const bounded = await boundedRequest(request, MAX_ENQUEUE_BYTES);
      return bounded ? enqueueJobs(deps.store, bounded, deps.clock()) : tooLarge();
    },
  },
  jobRead("", (deps, id) => api.job(deps.store, id)),
  jobRead("/log", (deps, id) => api.jobLog(deps.store, id, deps.logs)),
  jobRead("/dependencies", (deps, id) => api.jobDependencies(deps.store, id)),
  {
    method: "POST",
    path: "/api/jobs/{id}/kill",
    kind: "write",
    statuses: [200, 400, 404, 409],
    query: { retry: "one" },
    handle: ({ url, params, deps }) =>
      answering(() =>
        killJob(deps.store, params.id ?? "", deps.clock(), flagParam(url.searchParams, "retry", false)),
      ),
  },
  move("retry"),
  move("cancel"),
  move("rerun"),
];

/** The template's `{name}` values when `segments` fit it, else null. */
function matchPath(template: string, segments: string[]): Record<string, string> | null {
  const parts = template.split("/").slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [index, part] of parts.entries()) {
    const segment = segments[index] ?? "";
    if (part.startsWith("{") && part.endsWith("}")) {
      if (segment === "") return null;
      params[part.slice(1, -1)] = segment;
    } else if (part !== segment) return null;
  }
  return params;
}

/** Every route whose path fits, whatever its method (for 404 versus 405 with Allow). */
export function matchRoutes(segments: string[]): { route: Route; params: Record<string, string> }[] {
  return ROUTES.flatMap((route) => {
    const params = matchPath(route.path, segments);
    return params === null ? [] : [{ route, params }];
  });
}
