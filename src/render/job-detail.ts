/**
 * One job in full, as `show` and the REST API's GET /api/jobs/{id} give it: its spec, every
 * attempt, its result and its webhook deliveries. One shape, so the two cannot drift apart.
 */

import type { Attempt, Job } from "../core/job.ts";
import type { JobSpec } from "../core/spec-fields.ts";
import { attemptJson, colors, iso, jobJson, safeText } from "../render.ts";
import type { WebhookDelivery } from "../store/webhook-records.ts";

const isoTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** One line per delivery: event, URL, how it stands, tries and the last error. */
export function deliveryLines(deliveries: WebhookDelivery[]): string {
  const lines = deliveries.map((delivery) => {
    const status =
      delivery.status === "delivered"
        ? colors.green(`delivered ${isoTime(delivery.delivered_at ?? delivery.next_attempt_at)}`)
        : delivery.status === "gave_up"
          ? colors.red("gave up")
          : colors.yellow(
              delivery.attempts === 0 ? "pending" : `retrying at ${isoTime(delivery.next_attempt_at)}`,
            );
    const tries = `${delivery.attempts} ${delivery.attempts === 1 ? "try" : "tries"}`;
    const error =
      delivery.status !== "delivered" && delivery.last_error ? `  ${safeText(delivery.last_error)}` : "";
    return `  ${delivery.event.padEnd(9)} ${safeText(delivery.url)}  ${status}  (${tries})${error}`;
  });
  return `${lines.join("\n")}\n`;
}

/** The delivery as `show --json` prints it: the body stays out, it is the job's own data again. */
export function deliveryJson(delivery: WebhookDelivery) {
  const { body: _body, ...rest } = delivery;
  // Times as every other time in JSON output: ISO-8601 UTC text.
  return {
    ...rest,
    created_at: iso(delivery.created_at),
    next_attempt_at: iso(delivery.next_attempt_at),
    delivered_at: iso(delivery.delivered_at),
  };
}

/**
 * A spec as the user writes it. The stored spec keeps `delay` in milliseconds (the unit
 * its start time is computed in), while a number for any duration of a job means seconds,
 * as `timeout` is shown: a spec copied from `show --json` into `enqueue` must mean the same.
 */
export function specJson(spec: JobSpec): JobSpec {
  return spec.delay === undefined ? spec : { ...spec, delay: spec.delay / 1000 };
}

/** The `show --json` shape. */
export function jobDetailJson(job: Job, attempts: Attempt[], deliveries: WebhookDelivery[]) {
  return {
    ...jobJson(job),
    spec: specJson(job.spec),
    // `attempts` is the list here, so the count travels as attempt_count.
    attempt_count: job.attempts,
    attempts: attempts.map(attemptJson),
    // Stored as the job wrote it, which was checked to be JSON.
    result: job.result ? JSON.parse(job.result) : null,
    webhooks: deliveries.map(deliveryJson),
  };
}
