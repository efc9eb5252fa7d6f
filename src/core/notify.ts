/**
 * Webhook notifications: which URLs hear about which job events, what they are sent and how
 * it is signed. Pure: the stores call `notifyUrls` inside the transaction that changes the
 * job's state and only write down what it decides; the delivery service signs and sends.
 */

import { retryDelayMs } from "./backoff.ts";
import { SpecError, suggestion } from "./errors.ts";
import type { Job } from "./job.ts";

import { NOTIFY_EVENTS, type NotifyEvent, type NotifyTarget } from "./spec-fields.ts";

export { NOTIFY_EVENTS, type NotifyEvent, type NotifyTarget };

/** The header the signature travels in: `sha256=<hex of HMAC-SHA256(secret, raw body)>`. */
export const SIGNATURE_HEADER = "X-Queuectl-Signature";

/** A delivery is retried until this long after its event, then given up (1 h). */
export const DELIVERY_GIVE_UP_AFTER_MS = 3_600_000;
/** The longest wait between two tries of one delivery, in seconds (5 min). */
export const DELIVERY_MAX_DELAY_SECONDS = 300;

const MAX_TARGETS = 20;
const MAX_URL_LENGTH = 2048;

function fail(field: string, rule: string, hint: string): never {
  throw new SpecError(`\`${field}\` ${rule}`, hint, field.split(/[.[]/)[0]);
}

const EXAMPLE = '[{"url": "https://example.com/hook", "events": ["dead"]}]';

function normalizeUrl(field: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "")
    fail(field, "must be an http(s) URL", `e.g. ${EXAMPLE}`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    fail(field, `"${value}" is not a URL`, 'e.g. "https://example.com/hook"');
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    fail(field, `"${value}" is not an http or https URL`, 'e.g. "https://example.com/hook"');
  if (url.href.length > MAX_URL_LENGTH)
    fail(field, `is longer than ${MAX_URL_LENGTH} characters`, "shorten it");
  return url.href;
}

function normalizeEvents(field: string, value: unknown): NotifyEvent[] {
  if (value === undefined) return [...NOTIFY_EVENTS];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0)
    fail(field, `must be a list of ${NOTIFY_EVENTS.join(", ")}`, 'e.g. "events": ["failed", "dead"]');
  const events = new Set<NotifyEvent>();
  for (const event of list) {
    if (typeof event !== "string" || !(NOTIFY_EVENTS as readonly string[]).includes(event))
      fail(
        field,
        `holds ${JSON.stringify(event)}, not one of ${NOTIFY_EVENTS.join(", ")}`,
        typeof event === "string" ? suggestion(event, NOTIFY_EVENTS) : 'e.g. "events": ["dead"]',
      );
    events.add(event as NotifyEvent);
  }
  // Canonical order, so reordering a jobfile's list never changes the revision.
  return NOTIFY_EVENTS.filter((event) => events.has(event));
}

/**
 * Validates a `notify` list (a job field, a queue setting or the `notify` config key) and
 * returns it normalized: URLs parsed, events in canonical order, the same URL merged.
 */
export function normalizeNotify(value: unknown, field = "notify"): NotifyTarget[] {
  const list = Array.isArray(value) ? value : value !== null && typeof value === "object" ? [value] : value;
  if (!Array.isArray(list)) fail(field, "must be a list of {url, events}", `e.g. ${EXAMPLE}`);
  if (list.length > MAX_TARGETS) fail(field, `has more than ${MAX_TARGETS} receivers`, "use fewer URLs");
  const byUrl = new Map<string, Set<NotifyEvent>>();
  list.forEach((item, index) => {
    // One receiver given without a list is named as typed: `notify.url`, not `notify[0].url`.
    const at = Array.isArray(value) ? `${field}[${index}]` : field;
    if (typeof item === "string") item = { url: item };
    if (item === null || typeof item !== "object" || Array.isArray(item))
      fail(at, "must be an object with a url", `e.g. ${EXAMPLE}`);
    for (const key of Object.keys(item)) {
      if (key !== "url" && key !== "events")
        fail(`${at}.${key}`, "is not a notify field", suggestion(key, ["url", "events"]));
    }
    const url = normalizeUrl(`${at}.url`, (item as Record<string, unknown>).url);
    const events = normalizeEvents(`${at}.events`, (item as Record<string, unknown>).events);
    const known = byUrl.get(url) ?? new Set<NotifyEvent>();
    for (const event of events) known.add(event);
    byUrl.set(url, known);
  });
  return [...byUrl].map(([url, events]) => ({ url, events: NOTIFY_EVENTS.filter((e) => events.has(e)) }));
}

/** A stored list (queue setting or config) that no longer parses notifies no one, rather than failing the job. */
export function parseStoredNotify(text: string | null | undefined): NotifyTarget[] {
  if (!text) return [];
  try {
    return normalizeNotify(JSON.parse(text));
  } catch {
    return [];
  }
}

/** The event a job's new state is announced as, or null when that state is not announced. */
export function eventForState(state: Job["state"]): NotifyEvent | null {
  return state === "completed" || state === "failed" || state === "dead" ? state : null;
}

/**
 * The address a request goes to: a fragment (`#…`) is never sent to the server. Left as
 * written in the spec, whose revision it is part of, and applied where deliveries are made.
 */
function deliveredUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hash = "";
  return parsed.href;
}

/**
 * The URLs that get `event` for a job: the job's own list, its queue's and the config's, in
 * that order, each endpoint once however many of them name it, and however (a fragment makes
 * no other endpoint).
 */
export function notifyUrls(params: {
  event: NotifyEvent;
  job: readonly NotifyTarget[] | undefined;
  queue: readonly NotifyTarget[];
  config: readonly NotifyTarget[];
}): string[] {
  const urls = new Set<string>();
  for (const list of [params.job ?? [], params.queue, params.config]) {
    for (const target of list) if (target.events.includes(params.event)) urls.add(deliveredUrl(target.url));
  }
  return [...urls];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The JSON body of an event, fixed when the event happens; it is signed and sent byte for byte. */
export function notificationBody(event: NotifyEvent, job: Job, now: number): string {
  return JSON.stringify({
    event,
    job_id: job.id,
    queue: job.queue,
    state: job.state,
    attempt: job.attempts,
    max_attempts: job.max_retries + 1,
    exit_code: job.exit_code,
    error: job.last_error,
    created_at: iso(job.created_at),
    started_at: iso(job.started_at),
    finished_at: iso(job.finished_at),
    next_run_at: event === "failed" ? iso(job.next_run_at) : null,
    occurred_at: iso(now),
  });
}

/** One job event to record: the same body for every URL that wants it. */
export interface JobNotification {
  event: NotifyEvent;
  urls: string[];
  body: string;
}

/**
 * What a job that just changed state announces, given its queue's and the config's stored
 * receivers: null when the state is not announced or nobody listens for it. The stores call
 * this for each changed job inside the transaction and write one outbox row per URL.
 */
export function jobNotification(params: {
  job: Job;
  queue: readonly NotifyTarget[];
  config: readonly NotifyTarget[];
  now: number;
}): JobNotification | null {
  const { job } = params;
  const event = eventForState(job.state);
  if (event === null) return null;
  const urls = notifyUrls({ event, job: job.spec.notify, queue: params.queue, config: params.config });
  if (urls.length === 0) return null;
  return { event, urls, body: notificationBody(event, job, params.now) };
}

/**
 * `sha256=<hex>`: HMAC-SHA256 of the exact body bytes under the `webhook-secret` config.
 * Bun's own hasher: node:crypto costs every command that reads a job spec about 15 ms to load.
 */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${new Bun.CryptoHasher("sha256", secret).update(body).digest("hex")}`;
}

/**
 * When a failed delivery is tried again: the retry schedule of jobs (backoff.ts, `base ^ n`
 * seconds after the n-th failed try, at most 5 min apart), or null once the next try would
 * fall more than an hour after the event, when the delivery is given up.
 */
export function nextDeliveryAttempt(params: {
  attempts: number;
  createdAt: number;
  now: number;
  backoffBase: number;
}): number | null {
  const next =
    params.now + retryDelayMs(params.attempts, Math.max(params.backoffBase, 1), DELIVERY_MAX_DELAY_SECONDS);
  return next - params.createdAt > DELIVERY_GIVE_UP_AFTER_MS ? null : next;
}
