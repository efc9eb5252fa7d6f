import type { CAC } from "cac";
import { resolveConfig, withDefaults, workerLostAfterMs } from "../core/config.ts";
import { formatDurationMs } from "../core/duration.ts";
import { hostName } from "../core/home.ts";
import {
  colors,
  commandText,
  configJson,
  countsBlock,
  iso,
  printJson,
  progressText,
  safeText,
  workerJson,
} from "../render.ts";
import type { Store } from "../store/store.ts";
import { isProcessAlive } from "../worker/process-info.ts";
import { type GlobalOptions, withStore } from "./context.ts";

interface RunningJob {
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

/** "    running build for 12s: make test" under its worker, or "idle". */
function runningLines(jobs: RunningJob[]): string[] {
  if (jobs.length === 0) return [`      ${colors.dim("idle")}`];
  return jobs.map(
    (job) =>
      `      running ${safeText(job.id)} for ${formatDurationMs(job.running_ms)}${job.progress_pct === null ? "" : ` (${progressText(job)})`}: ${safeText(job.command).slice(0, 60)}`,
  );
}

/** Each synced folder with its watchers, judged alive by heartbeat (and, on this host, by pid). */
async function jobfileFolders(store: Store) {
  const folders = await store.folderList();
  if (folders.length === 0) return [];
  const { folderJson } = await import("../render/folders.ts");
  const check = { now: Date.now(), host: hostName(), isProcessAlive };
  return folders.map((folder) => folderJson(folder, check));
}

export function registerStatus(cli: CAC): void {
  cli
    .command("status", "Show job counts by state, the workers and the config")
    .option("--json", "Print {jobs, workers, running, folders, config} as JSON (default: human text)")
    .example("queuectl status")
    .action(statusCommand);
}

/** `status`: also run directly, without cac, by cli-direct.ts. */
export async function statusCommand(options: GlobalOptions): Promise<void> {
  await withStore(options, async (store) => {
    // A read command: it never changes state, not even a row that looks stale. Ages are
    // judged on the store's clock, which every host shares.
    const [counts, stored, workers, now, folders] = await Promise.all([
      store.jobCounts(),
      store.configGetAll(),
      store.workerList(),
      store.clockNow(),
      jobfileFolders(store),
    ]);
    const lostAfter = workerLostAfterMs(resolveConfig(stored));
    const config = withDefaults(stored);
    const running = await runningJobs(store, now);
    const workerRows = workers.map((worker) => workerJson(worker, now, lostAfter));
    if (options.json) {
      printJson({ jobs: counts, workers: workerRows, running, folders, config: configJson(config) });
      return;
    }
    const lines = [
      colors.bold("=== QueueCTL Status ==="),
      "",
      colors.bold("Job States:"),
      countsBlock(counts),
      "",
    ];
    lines.push(colors.bold(`Active Workers: ${workerRows.filter((w) => w.alive).length}`));
    if (workerRows.length === 0)
      lines.push("  (none running; start some with `queuectl worker start --count 3`)");
    const hosts = [...new Set(workerRows.map((w) => w.host))];
    for (const host of hosts) {
      if (hosts.length > 1) lines.push(`  ${safeText(host)}:`);
      for (const worker of workerRows.filter((w) => w.host === host)) {
        const age = Math.round(worker.heartbeat_age_ms / 1000);
        const health = worker.alive
          ? colors.green(worker.stop_requested ? "Stopping" : "Running")
          : colors.red(`Lost (no heartbeat for ${age}s)`);
        lines.push(
          `  Worker (PID: ${worker.pid}) - ${health}${hosts.length > 1 ? "" : ` on ${safeText(worker.host)}`}`,
        );
        lines.push(...runningLines(running.filter((job) => job.worker_id === worker.id)));
      }
    }
    lines.push(
      "",
      colors.bold("Jobfile folders:"),
      ...(await import("../render/folders.ts")).folderLines(folders),
    );
    lines.push("", colors.bold("Configuration:"));
    for (const [key, value] of Object.entries(config)) lines.push(`  ${key}: ${value}`);
    console.log(lines.join("\n"));
  });
}
