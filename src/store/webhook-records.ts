/** Webhook deliveries as every backend returns them. */

import type { NotifyEvent, NotifyTarget } from "../core/notify.ts";

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

export interface WebhookDeliveryClaimParams {
  claimId: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** URLs to claim nothing for (the caller has enough of their sends under way). Default none. */
  skipUrls?: readonly string[];
}

export interface WebhookDeliveryRecordParams {
  id: number;
  claimId: string;
  now: number;
  outcome: DeliveryOutcome;
}

export interface WebhookDeliveryListParams {
  jobId: string;
}
