/**
 * Sends webhook deliveries from the outbox. Every worker runs this service; the store's
 * claim leases each due row to one of them, so two workers never send the same row at
 * once. A row whose sender died mid-send falls due again when its lease ends, so a
 * receiver may see a delivery twice (the `X-Queuectl-Delivery` id tells) but never misses one.
 */

import type { QueueConfig } from "../core/config.ts";
import {
  DELIVERY_GIVE_UP_AFTER_MS,
  nextDeliveryAttempt,
  SIGNATURE_HEADER,
  webhookSignature,
} from "../core/notify.ts";
import { randomHex } from "../core/random-hex.ts";
import type { Store } from "../store/store.ts";
import type { DeliveryOutcome, WebhookDelivery } from "../store/webhook-records.ts";
import { PeriodicService, type ServiceOptions } from "./service.ts";

/** One try may take this long before it counts as failed (10 s). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/**
 * A claim holds its rows this long (20 s): past the longest try, so two live workers never
 * send one row at once, and short, so rows a killed worker held are sent soon by another.
 */
const DELIVERY_LEASE_MS = 2 * DELIVERY_TIMEOUT_MS;
/** Deliveries one tick claims and sends at once. */
const DELIVERY_BATCH = 20;
/**
 * Sends to one URL under way at once (4, or a few more): a receiver that hangs then holds 4
 * of the 20, and every other receiver's deliveries go out beside them. Claims take at most
 * this many rows each and skip the URLs that have it, so no one claim fills the room.
 */
const SENDS_PER_URL = 4;
/** The longest an idle worker waits before looking for due deliveries again (1 s). */
const DELIVERY_POLL_MS = 1_000;
/** Enough of a receiver's error answer to tell what went wrong. */
const MAX_ERROR_TEXT = 200;

/** POSTs one delivery's body, signed with `secret` when there is one. */
export async function sendDelivery(
  delivery: WebhookDelivery,
  secret: string | null,
  fetcher: typeof fetch = fetch,
): Promise<{ ok: true; httpStatus: number } | { ok: false; httpStatus: number | null; error: string }> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": "queuectl-webhook",
    "X-Queuectl-Event": delivery.event,
    "X-Queuectl-Delivery": String(delivery.id),
  };
  if (secret !== null) headers[SIGNATURE_HEADER] = webhookSignature(secret, delivery.body);
  try {
    const response = await fetcher(delivery.url, {
      method: "POST",
      headers,
      body: delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel();
      return { ok: true, httpStatus: response.status };
    }
    const text = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim().slice(0, MAX_ERROR_TEXT);
    return {
      ok: false,
      httpStatus: response.status,
      error: `HTTP ${response.status}${text ? `: ${text}` : ""}`,
    };
  } catch (error) {
    return { ok: false, httpStatus: null, error: (error as Error).message || String(error) };
  }
}

/** The secret to sign with, or null for unsigned deliveries (the config says `none`). */
function signingSecret(stored: Record<string, string>): string | null {
  const secret = stored["webhook-secret"];
  return secret === undefined || secret === "none" ? null : secret;
}

export function webhookDeliveryService(params: {
  store: Store;
  /** Names this worker's claims, so a stale one can be told from a fresh one. */
  workerId: string;
  now: () => number;
  config: () => QueueConfig;
  onError: (error: unknown) => void;
  /** Default: the global fetch. */
  fetcher?: typeof fetch;
}): PeriodicService {
  const { store } = params;
  /**
   * Sends under way. A tick claims only what room is left and does not wait for them: a
   * receiver that hangs until its timeout would otherwise hold back every other receiver's
   * deliveries (and their retries) for that long.
   */
  const inFlight = new Set<Promise<void>>();
  /** Sends under way by URL, for SENDS_PER_URL. */
  const perUrl = new Map<string, number>();
  const track = (url: string, change: 1 | -1) => {
    const count = (perUrl.get(url) ?? 0) + change;
    if (count > 0) perUrl.set(url, count);
    else perUrl.delete(url);
  };
  const sendOne = async (
    delivery: WebhookDelivery,
    claimId: string,
    secret: string | null,
  ): Promise<void> => {
    // Past the hour no try is made, however late a worker got to it (all were down): a
    // receiver must not hear of an event hours old as if it were news.
    const late = params.now() - delivery.created_at > DELIVERY_GIVE_UP_AFTER_MS;
    const sent = late
      ? {
          ok: false as const,
          httpStatus: null,
          error: "not sent: no worker could send it within an hour of the event",
        }
      : await sendDelivery(delivery, secret, params.fetcher);
    const now = params.now();
    const outcome: DeliveryOutcome = sent.ok
      ? { delivered: true, httpStatus: sent.httpStatus }
      : {
          delivered: false,
          httpStatus: sent.httpStatus,
          error: sent.error,
          nextAttemptAt: nextDeliveryAttempt({
            attempts: delivery.attempts + 1,
            createdAt: delivery.created_at,
            now,
            backoffBase: params.config().backoffBase,
          }),
        };
    await store.webhookDeliveryRecord({ id: delivery.id, claimId, now, outcome });
  };
  const sendDue = async (): Promise<void> => {
    for (;;) {
      const room = Math.min(DELIVERY_BATCH - inFlight.size, SENDS_PER_URL);
      if (room <= 0) return;
      const claimId = `${params.workerId}-${randomHex(4)}`;
      const claimed = await store.webhookDeliveryClaim({
        claimId,
        now: params.now(),
        leaseMs: DELIVERY_LEASE_MS,
        limit: room,
        skipUrls: [...perUrl].filter(([, count]) => count >= SENDS_PER_URL).map(([url]) => url),
      });
      if (claimed.length === 0) return;
      // Read per batch, so a changed secret signs the very next delivery.
      const secret = signingSecret(await store.configGetAll());
      for (const delivery of claimed) {
        track(delivery.url, 1);
        const sending: Promise<void> = sendOne(delivery, claimId, secret)
          .catch(params.onError)
          .finally(() => {
            inFlight.delete(sending);
            track(delivery.url, -1);
          });
        inFlight.add(sending);
      }
      if (claimed.length < room) return;
    }
  };
  /** What is under way, then what is due once more, then that too. */
  const drain = async (): Promise<void> => {
    await Promise.all(inFlight);
    await sendDue();
    await Promise.all(inFlight);
  };
  return new DeliveryService(
    {
      intervalMs: () => Math.min(DELIVERY_POLL_MS, params.config().pollIntervalMs),
      onError: params.onError,
      tick: sendDue,
    },
    drain,
  );
}

/**
 * Stopping sends what is due once more: the events of the worker's last jobs, so a
 * `worker start --drain` that ends right after its last job has told its receivers.
 * What fails then is retried by the next worker that runs.
 */
class DeliveryService extends PeriodicService {
  constructor(
    private readonly serviceOptions: ServiceOptions,
    private readonly drain: () => Promise<void>,
  ) {
    super(serviceOptions);
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.drain().catch(this.serviceOptions.onError);
  }
}
