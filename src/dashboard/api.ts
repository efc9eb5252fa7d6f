/**
 * The read side of `/api/…`. Bodies reuse the CLI's `--json` shapes from render.ts, so a
 * script can move between `queuectl … --json` and the API without a translation layer.
 */

import { queueViews } from "../flow/queue-list.ts";
import { queueStatus, type StatusJson } from "../flow/status.ts";
import { jobDetailJson } from "../render/job-detail.ts";
import { iso, scheduleJson } from "../render.ts";
import type { JobLink, Store } from "../store/store.ts";
import { type LiveOutputSource, liveOutputTail } from "./live-output.ts";
import { answering, wholeNumber } from "./query-params.ts";
import { json, problem } from "./responses.ts";

const MINUTE_MS = 60_000;
/** The chart's window: the last hour by default, a day at most. */
const DEFAULT_MINUTES = 60;
const MAX_MINUTES = 24 * 60;
/** A job's detail lists at most this many of the jobs waiting for it; the total is still given. */
const DEPENDENTS_SHOWN = 100;

/** The `status --json` body, built by the code that builds it for the CLI. */
export async function statusBody(store: Store): Promise<StatusJson> {
  return (await queueStatus(store)).json;
}

export async function status(store: Store): Promise<Response> {
  return json(await statusBody(store));
}

export async function workers(store: Store): Promise<Response> {
  return json((await statusBody(store)).workers);
}

function noSuchJob(id: string): Response {
  return problem(404, `no job with id "${id}"`, "see GET /api/jobs for the ids in the queue");
}

/** The `show --json` shape: the job, its full spec, every attempt, result and webhook deliveries. */
export async function job(store: Store, id: string): Promise<Response> {
  const found = await store.jobGet({ id });
  if (!found) return noSuchJob(id);
  const [attempts, deliveries] = await Promise.all([
    store.attemptList({ jobId: id }),
    store.webhookDeliveryList({ jobId: id }),
  ]);
  return json(jobDetailJson(found, attempts, deliveries));
}

/**
 * The tail of each attempt's output: as kept in the store once it ended (the same from any
 * host), or read from this host's log files while it runs (`live`).
 */
export async function jobLog(store: Store, id: string, source: LiveOutputSource): Promise<Response> {
  const found = await store.jobGet({ id });
  if (!found) return noSuchJob(id);
  const attempts = await store.attemptList({ jobId: id });
  return json({
    id,
    attempts: attempts.map((attempt) => {
      const live = liveOutputTail(source, attempt);
      return {
        attempt: attempt.attempt,
        token: attempt.token,
        host: attempt.host,
        running: attempt.finished_at === null,
        live: live !== null,
        output_tail: live ?? attempt.output_tail,
      };
    }),
  });
}

function linkJson(links: JobLink[]) {
  return links.map((link) => ({ id: link.id, state: link.state }));
}

/** `GET /api/jobs/<id>/dependencies`: the jobs it waits for (`after`) and those waiting for it. */
export async function jobDependencies(store: Store, id: string): Promise<Response> {
  const found = await store.jobGet({ id });
  if (!found) return noSuchJob(id);
  const links = await store.jobDependencyLinks({ id, limit: DEPENDENTS_SHOWN });
  return json({
    id,
    upstream: linkJson(links.upstream),
    downstream: linkJson(links.downstream),
    downstream_total: links.downstreamTotal,
  });
}

/** `GET /api/queues`: the `queue list --json` shape (limit, pause switch, counts by state). */
export async function queues(store: Store): Promise<Response> {
  return json(await queueViews(store));
}

/** `GET /api/schedules`: the `schedule list --json` shape, with each schedule's next run. */
export async function schedules(store: Store): Promise<Response> {
  return json((await store.scheduleList()).map(scheduleJson));
}

/** Finished attempts per minute over `minutes`, with every minute present so charts need no gaps logic. */
export function throughput(store: Store, query: URLSearchParams, now: number): Promise<Response> {
  return answering(async () => {
    const minutes = wholeNumber(query, "minutes", 1, MAX_MINUTES, DEFAULT_MINUTES);
    const last = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const since = last - (minutes - 1) * MINUTE_MS;
    const found = new Map(
      (await store.attemptThroughput({ since, bucketMs: MINUTE_MS })).map((bucket) => [bucket.start, bucket]),
    );
    const buckets = Array.from({ length: minutes }, (_, i) => {
      const start = since + i * MINUTE_MS;
      const bucket = found.get(start);
      return { start: iso(start), completed: bucket?.succeeded ?? 0, failed: bucket?.failed ?? 0 };
    });
    return json({ bucket_seconds: MINUTE_MS / 1000, buckets });
  });
}
