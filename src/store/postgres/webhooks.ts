/**
 * The webhook outbox on PostgreSQL, with the same names and semantics as
 * sqlite/webhooks.ts. Where it differs: the claim takes rows with FOR UPDATE SKIP LOCKED
 * (many hosts claim at once; SQLite has one writer), and a queue's `notify` is jsonb.
 */

import type { SQL } from "bun";
import type {
  QueueNotifySetParams,
  WebhookDeliveryClaimParams,
  WebhookDeliveryListParams,
  WebhookDeliveryRecordParams,
} from "../params.ts";
import { rowToDelivery } from "../rows.ts";
import { storedNotifyTargets, webhookRecordForRow } from "../webhook-outbox.ts";
import type { QueueNotify, WebhookDelivery } from "../webhook-records.ts";
import { pgText } from "./connection.ts";

type Row = Record<string, unknown>;

/** See sqlite/webhooks.ts: runs inside the transaction that just changed the job. */
export async function recordWebhookEvent(tx: SQL, id: string, now: number): Promise<void> {
  await recordWebhookEvents(tx, [id], now);
}

/**
 * Whether anyone may want to hear about a row of `jobs`: a `notify` on the job, its queue or
 * the config. The completion of a batch asks it too, to skip the outbox when nobody listens.
 */
export const MAY_NOTIFY_SQL = `(jobs.spec ? 'notify'
  OR EXISTS (SELECT 1 FROM queues nq WHERE nq.name = jobs.queue AND nq.notify IS NOT NULL)
  OR EXISTS (SELECT 1 FROM config nc WHERE nc.key = 'notify' AND nc.value <> '[]'))`;

/**
 * recordWebhookEvent for several jobs in one round trip: only jobs that someone may want to
 * hear about come back, so a batch of completions nobody listens to costs one query that
 * returns nothing.
 */
export async function recordWebhookEvents(tx: SQL, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  const rows = (await tx`
    SELECT jobs.*, q.notify AS queue_notify, c.value AS config_notify
    FROM jobs
    LEFT JOIN queues q ON q.name = jobs.queue
    LEFT JOIN config c ON c.key = 'notify'
    WHERE jobs.id = ANY(${ids}::text[]) AND ${tx.unsafe(MAY_NOTIFY_SQL)}`) as Row[];
  for (const row of rows) {
    const record = webhookRecordForRow(row, now);
    if (record === null) continue;
    await tx`
      INSERT INTO webhook_deliveries (job_id, token, event, url, body, created_at, next_attempt_at)
      SELECT ${record.jobId}, ${record.token}::int, ${record.event}, url, ${record.body}, ${now}::bigint, ${now}::bigint
      FROM unnest(${record.urls}::text[]) AS url`;
  }
}

export async function webhookDeliveryDue(sql: SQL, now: number): Promise<boolean> {
  const rows = await sql`
    SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ${now}::bigint LIMIT 1`;
  return rows.length > 0;
}

/** SKIP LOCKED: two hosts claiming at once each take different rows instead of waiting. */
export async function webhookDeliveryClaim(
  sql: SQL,
  params: WebhookDeliveryClaimParams,
): Promise<WebhookDelivery[]> {
  const rows = await sql`
    UPDATE webhook_deliveries SET next_attempt_at = ${params.now + params.leaseMs}::bigint, claimed_by = ${params.claimId}
    WHERE id IN (
      SELECT id FROM webhook_deliveries
      WHERE status = 'pending' AND next_attempt_at <= ${params.now}::bigint
        AND url <> ALL(${[...(params.skipUrls ?? [])]}::text[])
      ORDER BY next_attempt_at, id LIMIT ${params.limit}::int
      FOR UPDATE SKIP LOCKED)
    RETURNING *`;
  return (rows as Row[]).map(rowToDelivery).sort((a, b) => a.id - b.id);
}

export async function webhookDeliveryRecord(sql: SQL, params: WebhookDeliveryRecordParams): Promise<boolean> {
  const { outcome } = params;
  const status = outcome.delivered ? "delivered" : outcome.nextAttemptAt === null ? "gave_up" : "pending";
  const next = outcome.delivered || outcome.nextAttemptAt === null ? params.now : outcome.nextAttemptAt;
  const result = await sql`
    UPDATE webhook_deliveries
    SET status = ${status}, attempts = attempts + 1, next_attempt_at = ${next}::bigint, claimed_by = NULL,
        delivered_at = ${outcome.delivered ? params.now : null}::bigint, last_status = ${outcome.httpStatus}::int,
        last_error = ${outcome.delivered ? null : pgText(outcome.error)}::text
    WHERE id = ${params.id}::bigint AND claimed_by = ${params.claimId} AND status = 'pending'`;
  return result.count > 0;
}

export async function webhookDeliveryList(
  sql: SQL,
  params: WebhookDeliveryListParams,
): Promise<WebhookDelivery[]> {
  const rows = await sql`SELECT * FROM webhook_deliveries WHERE job_id = ${params.jobId} ORDER BY id`;
  return (rows as Row[]).map(rowToDelivery);
}

export async function queueNotifySet(tx: SQL, params: QueueNotifySetParams): Promise<void> {
  const notify = params.notify === null || params.notify.length === 0 ? null : JSON.stringify(params.notify);
  await tx`
    INSERT INTO queues (name, notify) VALUES (${params.name}, ${notify}::jsonb)
    ON CONFLICT (name) DO UPDATE SET notify = EXCLUDED.notify`;
}

export async function queueNotifyList(sql: SQL): Promise<QueueNotify[]> {
  const rows = await sql`SELECT name, notify FROM queues WHERE notify IS NOT NULL ORDER BY name`;
  return (rows as Row[]).map((row) => ({ name: String(row.name), notify: storedNotifyTargets(row.notify) }));
}
