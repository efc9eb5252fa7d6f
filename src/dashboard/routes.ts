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
import { enqueueJobs } from "./enqueue.ts";
import type { StatusFeed } from "./events.ts";
import { jobs } from "./job-list.ts";
import type { LiveOutputSource } from "./live-output.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { MonotonicSeries } from "./monotonic.ts";
import { openApiDocument } from "./openapi.ts";
import { answering, flagParam } from "./query-params.ts";
import { json } from "./responses.ts";
import { type AccessPolicy, login } from "./security.ts";
import { syncState } from "./sync-state.ts";

export interface RouteDeps {
  store: Store;
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
    handle: ({ deps }) => json(openApiDocument(deps.policy.cookieName)),
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
      const body = (await request.json().catch(() => null)) as { token?: unknown } | null;
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
    handle: ({ url, deps }) => jobs(deps.store, url.searchParams),
  },
  {
    method: "POST",
    path: "/api/jobs",
    kind: "write",
    statuses: [201, 400, 413, 415],
    handle: ({ request, deps }) => enqueueJobs(deps.store, request, deps.clock()),
  },
  jobRead("", (deps, id) => api.job(deps.store, id)),
  jobRead("/log", (deps, id) => api.jobLog(deps.store, id, deps.logs)),
  jobRead("/dependencies", (deps, id) => api.jobDependencies(deps.store, id)),
  {
    method: "POST",
    path: "/api/jobs/{id}/kill",
    kind: "write",
    statuses: [200, 400, 404, 409],
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
