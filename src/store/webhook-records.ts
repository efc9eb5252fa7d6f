/** Webhook deliveries as every backend returns them, and what each backend writes to the outbox. */

import {
  type JobNotification,
  jobNotification,
  type NotifyEvent,
  type NotifyTarget,
  normalizeNotify,
  parseStoredNotify,
} from "../core/notify.ts";
import { rowToJob } from "./rows.ts";

export type DeliveryStatus = "pending" | "delivered" | "gave_up";

/** One event for one URL, from the outbox (see migration 7). Times are ms since the epoch. */
export interface WebhookDelivery {
  id: number;
  job_id: string;
  /** The claim of the job whose end this announces. */
  token: number;
  event: NotifyEvent;
  url: string;
  /** The exact JSON text that is sent and signed. */
  body: string;
  status: DeliveryStatus;
  /** Tries so far. */
  attempts: number;
  created_at: number;
  /** When a pending delivery is tried next. */
  next_attempt_at: number;
  delivered_at: number | null;
  /** The HTTP status of the last try, or null when it got no answer. */
  last_status: number | null;
  last_error: string | null;
}

/** How one try of a claimed delivery went. `nextAttemptAt` null: give it up. */
export type DeliveryOutcome =
  | { delivered: true; httpStatus: number }
  | { delivered: false; httpStatus: number | null; error: string; nextAttemptAt: number | null };

/** A queue's own webhook receivers (`queue set --notify`). */
export interface QueueNotify {
  name: string;
  notify: NotifyTarget[];
}

type Row = Record<string, unknown>;

/** A stored receiver list (text from SQLite, jsonb from PostgreSQL) that no longer parses notifies no one. */
export function storedNotifyTargets(value: unknown): NotifyTarget[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return parseStoredNotify(value);
  try {
    return normalizeNotify(value);
  } catch {
    return [];
  }
}

/** The outbox rows one changed job asks for: one per URL, all with the same event and body. */
export interface WebhookRecord extends JobNotification {
  jobId: string;
  token: number;
}

/**
 * What `recordWebhookEvents` writes for one row of the job joined with its queue's
 * `queue_notify` and the config's `config_notify`, or null when nothing is announced.
 */
export function webhookRecordForRow(row: Row, now: number): WebhookRecord | null {
  const job = rowToJob(row);
  const notification = jobNotification({
    job,
    queue: storedNotifyTargets(row.queue_notify),
    config: storedNotifyTargets(row.config_notify),
    now,
  });
  return notification === null ? null : { jobId: job.id, token: job.token, ...notification };
}
