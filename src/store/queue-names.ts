/**
 * The queues the store knows: those a job is in, those with a setting of their own (`queue
 * set`, a pause switch), those a registered worker serves by name, and those a schedule's
 * occurrences go to. `queue pause|resume` and POST /api/queues/<name>/pause|resume both refuse
 * any other name, so a typo never creates a paused queue while the real one keeps running;
 * one rule for both, so the CLI and the REST API cannot disagree on what a queue is.
 */

import type { Store } from "./store.ts";

/** Every queue name the store knows, sorted. */
export async function knownQueueNames(store: Store): Promise<string[]> {
  const [queues, workers, schedules] = await Promise.all([
    store.queueList(),
    store.workerList(),
    store.scheduleList(),
  ]);
  const names = new Set(queues.map((queue) => queue.name));
  for (const worker of workers) for (const name of worker.queues ?? []) names.add(name);
  for (const schedule of schedules) names.add(schedule.spec.queue ?? "default");
  return [...names].sort();
}
