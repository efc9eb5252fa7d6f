/**
 * The queue's state as `status --json` and GET /api/status (and the page's event feed) give
 * it: counts, workers, the jobs they run, jobfile folders and the config. One builder for
 * all of them, so the API cannot drift from the CLI's shape.
 */

import { resolveConfig, withDefaults, workerLostAfterMs } from "../core/config.ts";
import { hostName } from "../core/home.ts";
import { commandText, configJson, iso, workerJson } from "../render.ts";
import type { Store } from "../store/store.ts";
import { isProcessAlive } from "../worker/process-info.ts";

export interface RunningJob {
  worker_id: string;
  id: string;
  command: string;
  started_at: string | null;
  running_ms: number;
  progress_pct: number | null;
  progress_message: string | null;
}

/** The jobs workers run now, from the store: processing jobs with their worker_id, oldest first. */
async function runningJobs(store: Store, now: number): Promise<RunningJob[]> {
  const { jobs } = await store.jobPage({ states: ["processing"], limit: null, order: "oldest" });
  return jobs.flatMap((job) =>
    job.worker_id === null
      ? []
      : [
          {
            worker_id: job.worker_id,
            id: job.id,
            command: commandText(job.spec.command),
            started_at: iso(job.started_at),
            running_ms: job.started_at === null ? 0 : Math.max(0, now - job.started_at),
            progress_pct: job.progress_pct ?? null,
            progress_message: job.progress_message ?? null,
          },
        ],
  );
}

/** Each synced folder with its watchers, judged alive by heartbeat (and, on this host, by pid). */
async function jobfileFolders(store: Store) {
  const folders = await store.folderList();
  if (folders.length === 0) return [];
  // Loaded only when there is a folder, so a plain `status` does not pay for it.
  const { folderJson } = await import("../render/folders.ts");
  const check = { now: await store.clockNow(), host: hostName(), isProcessAlive };
  return folders.map((folder) => folderJson(folder, check));
}

/**
 * `{ jobs, workers, running, folders, config }` (with `summary`, `running` and `folders`
 * empty), plus the config as stored with its defaults
 * for the human text. A read: it never changes state, not even a row that looks stale. Ages
 * are judged on the store's clock, which every host shares (on PostgreSQL heartbeats carry
 * the server's time), so a host whose clock is off does not call live workers lost.
 */
export async function queueStatus(store: Store, options: { summary?: boolean } = {}) {
  // The page's live feed sends this on every change: it shows counts and workers only, so
  // the running jobs (every one, with its command) and the folders are not read for it.
  const summary = options.summary ?? false;
  const [counts, stored, workers, now, folders] = await Promise.all([
    store.jobCounts(),
    store.configGetAll(),
    store.workerList(),
    store.clockNow(),
    summary ? [] : jobfileFolders(store),
  ]);
  const lostAfter = workerLostAfterMs(resolveConfig(stored));
  const config = withDefaults(stored);
  // It signs webhook bodies: status, and the page's feed, say whether one is set, never what
  // it is (`config get webhook-secret` shows it to whoever may read the config).
  if (config["webhook-secret"] !== "none") config["webhook-secret"] = "set";
  const running = summary ? [] : await runningJobs(store, now);
  return {
    json: {
      jobs: counts,
      workers: workers.map((worker) => workerJson(worker, now, lostAfter)),
      running,
      folders,
      config: configJson(config),
    },
    config,
  };
}

export type StatusJson = Awaited<ReturnType<typeof queueStatus>>["json"];
