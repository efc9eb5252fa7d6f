/**
 * Every queue as `queue list --json` and GET /api/queues show it: its limit, pause switch
 * and counts, its webhooks where it has some, and its jobs' resource limits (null for none).
 * One shape for both, so the two cannot drift apart.
 */

import type { ResourceLimits } from "../core/resource-limits.ts";
import type { QueueInfo, QueueNotify, Store } from "../store/store.ts";

export type QueueView = QueueInfo & { notify?: QueueNotify["notify"]; limits: ResourceLimits | null };

export async function queueViews(store: Store): Promise<QueueView[]> {
  const [queues, notifyList, limits] = await Promise.all([
    store.queueList(),
    store.queueNotifyList(),
    store.queueLimitsList(),
  ]);
  const notify = new Map(notifyList.map((entry) => [entry.name, entry.notify]));
  // `notify` only where a queue has webhooks, so the output of other queues stays as it was.
  return queues.map((queue) => ({
    ...queue,
    ...(notify.has(queue.name) ? { notify: notify.get(queue.name) } : {}),
    limits: limits[queue.name] ?? null,
  }));
}
