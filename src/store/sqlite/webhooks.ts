/**
 * The webhook outbox on SQLite: recording a job's event for its receivers inside the
 * transaction that changed the job, claiming due deliveries with a lease, recording how a
 * try went, and the queue setting that names receivers. Who gets what is decided in
 * src/core/notify.ts; this file only reads and writes.
 */

import type { Database } from "bun:sqlite";
import type {
  QueueNotifySetParams,
  WebhookDeliveryClaimParams,
  WebhookDeliveryListParams,
  WebhookDeliveryRecordParams,
} from "../params.ts";
import { rowToDelivery } from "../rows.ts";
import { storedNotifyTargets, webhookRecordForRow } from "../webhook-outbox.ts";
import type { QueueNotify, WebhookDelivery } from "../webhook-records.ts";

type Row = Record<string, unknown>;

/**
 * Whether anyone may want to hear about a row of `jobs`: a `notify` on the job, its queue or
 * the config. A completion asks it in its RETURNING, to skip the outbox when nobody listens.
 */
export const MAY_NOTIFY_SQL = `(json_extract(jobs.spec, '$.notify') IS NOT NULL
  OR EXISTS (SELECT 1 FROM queues nq WHERE nq.name = jobs.queue AND nq.notify IS NOT NULL)
  OR EXISTS (SELECT 1 FROM config nc WHERE nc.key = 'notify' AND nc.value <> '[]'))`;

/**
 * Writes the outbox rows for the state the job `id` is in now (completed, failed or dead),
 * one per URL that wants the event. Must run inside the caller's transaction, right after
 * the fenced state change, so the rows exist exactly when the change does.
 */
export function recordWebhookEvent(db: Database, id: string, now: number): void {
  recordWebhookEvents(db, [id], now);
}

/**
 * recordWebhookEvent for several jobs with one query: only jobs that someone may want to
 * hear about (a `notify` on the job, its queue or the config) come back, so a completion
 * nobody listens to costs one indexed lookup that returns nothing.
 */
export function recordWebhookEvents(db: Database, ids: string[], now: number): void {
  if (ids.length === 0) return;
  const rows = db
    .query(`
      SELECT jobs.*, q.notify AS queue_notify, c.value AS config_notify
      FROM jobs
      LEFT JOIN queues q ON q.name = jobs.queue
      LEFT JOIN config c ON c.key = 'notify'
      WHERE jobs.id IN (SELECT value FROM json_each(?)) AND ${MAY_NOTIFY_SQL}`)
    .all(JSON.stringify(ids)) as Row[];
  const insert = db.query(`
    INSERT INTO webhook_deliveries (job_id, token, event, url, body, created_at, next_attempt_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  for (const row of rows) {
    const record = webhookRecordForRow(row, now);
    if (record !== null)
      for (const url of record.urls)
        insert.run(record.jobId, record.token, record.event, url, record.body, now, now);
  }
}

/** Whether any delivery is due: a read, so idle workers do not take the write lock to find out. */
export function webhookDeliveryDue(db: Database, now: number): boolean {
  return (
    db
      .query("SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1")
      .get(now) !== null
  );
}

/**
 * Claims up to `limit` due deliveries for `claimId`: their next try moves to the end of the
 * lease, so no one else takes them meanwhile. Runs in an IMMEDIATE transaction; SQLite's
 * single writer makes the read-then-update atomic.
 */
export function webhookDeliveryClaim(db: Database, params: WebhookDeliveryClaimParams): WebhookDelivery[] {
  const rows = db
    .query(`
      UPDATE webhook_deliveries SET next_attempt_at = ?1, claimed_by = ?2
      WHERE id IN (
        SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= ?3 AND url NOT IN (SELECT value FROM json_each(?5))
        ORDER BY next_attempt_at, id LIMIT ?4)
      RETURNING *`)
    .all(
      params.now + params.leaseMs,
      params.claimId,
      params.now,
      params.limit,
      JSON.stringify(params.skipUrls ?? []),
    ) as Row[];
  return rows.map(rowToDelivery).sort((a, b) => a.id - b.id);
}

/** Records one try; false (and no change) when the claim no longer holds the row. */
export function webhookDeliveryRecord(db: Database, params: WebhookDeliveryRecordParams): boolean {
  const { outcome } = params;
  const status = outcome.delivered ? "delivered" : outcome.nextAttemptAt === null ? "gave_up" : "pending";
  const next = outcome.delivered || outcome.nextAttemptAt === null ? params.now : outcome.nextAttemptAt;
  const changes = db
    .query(`
      UPDATE webhook_deliveries
      SET status = ?1, attempts = attempts + 1, next_attempt_at = ?2, claimed_by = NULL,
          delivered_at = CASE WHEN ?1 = 'delivered' THEN ?3 ELSE NULL END, last_status = ?4, last_error = ?5
      WHERE id = ?6 AND claimed_by = ?7 AND status = 'pending'`)
    .run(
      status,
      next,
      params.now,
      outcome.httpStatus,
      outcome.delivered ? null : outcome.error,
      params.id,
      params.claimId,
    ).changes;
  return changes > 0;
}

export function webhookDeliveryList(db: Database, params: WebhookDeliveryListParams): WebhookDelivery[] {
  return (
    db.query("SELECT * FROM webhook_deliveries WHERE job_id = ? ORDER BY id").all(params.jobId) as Row[]
  ).map(rowToDelivery);
}

/** Sets (or, with null, clears) a queue's receivers; the queue's other settings stay. */
export function queueNotifySet(db: Database, params: QueueNotifySetParams): void {
  db.query(
    "INSERT INTO queues (name, notify) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET notify = excluded.notify",
  ).run(
    params.name,
    params.notify === null || params.notify.length === 0 ? null : JSON.stringify(params.notify),
  );
}

export function queueNotifyList(db: Database): QueueNotify[] {
  return (
    db.query("SELECT name, notify FROM queues WHERE notify IS NOT NULL ORDER BY name").all() as Row[]
  ).map((row) => ({ name: String(row.name), notify: storedNotifyTargets(row.notify) }));
}
