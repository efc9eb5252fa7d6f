/**
 * The schedule ticker: turns due schedules into occurrence jobs. Workers and watchers run
 * it on every poll; `scheduleFire` is a compare-and-set on `next_at` and occurrence ids are
 * deterministic, so any number of tickers on any number of hosts enqueue each occurrence once.
 * Catch-up (which occurrences are owed) is decided here by `dueOccurrences`; overlap (which
 * of them to enqueue, and which earlier ones to cancel) by `decideOccurrences` inside the
 * store's transaction, since it depends on the occurrences' states at that moment.
 */

import { resolveConfig } from "../core/config.ts";
import { dueOccurrences, occurrenceSpec } from "../core/schedule.ts";
import { specRevision } from "../core/spec.ts";
import type { Store } from "../store/store.ts";

export interface TickResult {
  enqueued: string[];
  skipped: string[];
  replaced: string[];
}

export async function tickSchedules(store: Store, now: number): Promise<TickResult> {
  const result: TickResult = { enqueued: [], skipped: [], replaced: [] };
  const due = await store.scheduleDue({ now });
  if (due.length === 0) return result;
  const config = resolveConfig(await store.configGetAll());
  for (const schedule of due) {
    if (schedule.next_at === null) continue;
    const owed = dueOccurrences(schedule.spec, schedule.next_at, now);
    const occurrences = owed.runAt.map((at) => {
      const spec = occurrenceSpec(schedule.spec, at);
      return {
        spec,
        revision: specRevision(spec),
        maxRetries: spec.max_retries ?? config.maxRetries,
        nextRunAt: at,
        source: schedule.source,
      };
    });
    const fired = await store.scheduleFire({
      id: schedule.id,
      expectedNextAt: schedule.next_at,
      nextAt: owed.nextAt,
      occurrences,
      overlap: schedule.spec.overlap ?? "skip",
      now,
    });
    result.enqueued.push(...fired.enqueued);
    result.skipped.push(...fired.skipped);
    result.replaced.push(...fired.replaced);
  }
  return result;
}
