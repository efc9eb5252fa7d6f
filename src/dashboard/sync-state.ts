/**
 * The jobfile side of the queue, as far as the store records it: each folder with its last
 * sync (counts and problems) and its watchers, alive or lost, with their last error, in
 * the shape `status --json` gives them; then every declared job, grouped by the file that
 * declares it, with its state.
 */

import { hostName } from "../core/home.ts";
import { emptyStateCounts, type JobState, type StateCounts } from "../core/job.ts";
import { folderJson } from "../render/folders.ts";
import type { Store } from "../store/store.ts";
import { isProcessAlive } from "../worker/process-info.ts";
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
  const check = { now: await store.clockNow(), host: hostName(), isProcessAlive };
  return json({
    folders: (await store.folderList()).map((folder) => folderJson(folder, check)),
    sources: [...groups.values()].sort((a, b) => a.source.localeCompare(b.source)),
  });
}
