/**
 * What both backends write to the webhook outbox for a job that just changed state, read
 * from the job's row joined with its queue's and the config's receivers (who hears what is
 * decided in core/notify.ts), and how both claim due deliveries.
 */

import {
  type JobNotification,
  jobNotification,
  type NotifyTarget,
  normalizeNotify,
  parseStoredNotify,
} from "../core/notify.ts";
import { rowToJob } from "./rows.ts";
import type { WebhookDelivery } from "./webhook-records.ts";

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

/**
 * Store.webhookDeliveryClaim on either backend: `due` (a read) first, and `claim` (a write)
 * only when it finds something. Idle workers poll this, and must not take a write to find nothing.
 */
export async function claimWhenDue(
  due: () => Promise<boolean>,
  claim: () => Promise<WebhookDelivery[]>,
): Promise<WebhookDelivery[]> {
  return (await due()) ? claim() : [];
}
