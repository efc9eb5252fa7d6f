/**
 * The jobfile side of the queue, as far as the store records it: every declared job,
 * grouped by the file that declares it, with its state.
 *
 * The store keeps no record of the last `sync` run (its plan, or the files that failed to
 * parse): those live only in the output of `queuectl sync`. The answer says so in `note`
 * instead of pretending, and `last_plan` stays null until the store can supply it.
 */

import { emptyStateCounts, type JobState, type StateCounts } from "../core/job.ts";
import type { Store } from "../store/store.ts";
import { json } from "./responses.ts";

/** Each file lists at most this many of its jobs; its counts still cover all of them. */
const JOBS_PER_SOURCE = 50;

interface SourceGroup {
  source: string;
  counts: StateCounts;
  /** Jobs whose file no longer declares them (removed files keep their history). */
  undeclared: number;
  jobs: { id: string; state: JobState; declared: boolean }[];
}

export async function syncState(store: Store): Promise<Response> {
  const groups = new Map<string, SourceGroup>();
  for (const job of await store.declaredList()) {
    let group = groups.get(job.source);
    if (!group) {
      group = { source: job.source, counts: emptyStateCounts(), undeclared: 0, jobs: [] };
      groups.set(job.source, group);
    }
    group.counts[job.state]++;
    group.counts.total++;
    if (!job.declared) group.undeclared++;
    if (group.jobs.length < JOBS_PER_SOURCE)
      group.jobs.push({ id: job.id, state: job.state, declared: job.declared });
  }
  return json({
    last_plan: null,
    files_in_error: null,
    note: "The store does not record sync runs yet; run `queuectl sync --dry-run` for the plan and any files in error.",
    sources: [...groups.values()].sort((a, b) => a.source.localeCompare(b.source)),
  });
}
