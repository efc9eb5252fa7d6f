/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4).
 *
 * Counters and histograms come from the attempts table (see MetricsSnapshot), so every
 * dashboard process, on any host, exposes the same numbers for the same store; scrape
 * one of them. Gauges are read fresh on every scrape.
 */

import { resolveConfig, workerLostAfterMs } from "../core/config.ts";
import { JOB_STATES } from "../core/job.ts";
import type { HistogramCounts, Store } from "../store/store.ts";
import type { MonotonicSeries } from "./monotonic.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Seconds. From a quick `echo` to a nightly backup; the last bucket is two hours. */
const DURATION_BOUNDS_S = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200];
/** Seconds. An idle worker claims within a poll interval; a backlog shows in the upper buckets. */
const WAIT_BOUNDS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

type Family = { name: string; help: string; type: "gauge" | "counter" | "histogram"; lines: string[] };

function family(name: string, type: Family["type"], help: string, lines: string[]): Family {
  return { name, type, help, lines };
}

function sample(name: string, value: number, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([key, text]) => `${key}="${text}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`;
}

function histogramLines(name: string, data: HistogramCounts): string[] {
  const lines = data.boundsMs.map((boundMs, i) =>
    sample(`${name}_bucket`, data.counts[i] ?? 0, { le: String(boundMs / 1000) }),
  );
  lines.push(sample(`${name}_bucket`, data.count, { le: "+Inf" }));
  lines.push(sample(`${name}_sum`, data.sumMs / 1000));
  lines.push(sample(`${name}_count`, data.count));
  return lines;
}

/** `series` is the process's memory of earlier scrapes, which keeps counters from going down. */
export async function renderMetrics(store: Store, now: number, series: MonotonicSeries): Promise<string> {
  const [counts, workers, stored, raw] = await Promise.all([
    store.jobCounts(),
    store.workerList(),
    store.configGetAll(),
    store.metricsSnapshot({
      now,
      durationBoundsMs: DURATION_BOUNDS_S.map((s) => s * 1000),
      waitBoundsMs: WAIT_BOUNDS_S.map((s) => s * 1000),
    }),
  ]);
  const snapshot = {
    completed: series.value("completed", raw.completed),
    failed: series.value("failed", raw.failed),
    dead: series.value("dead", raw.dead),
    retries: series.value("retries", raw.retries),
    duration: series.histogram("duration", raw.duration),
    wait: series.histogram("wait", raw.wait),
  };
  const lostAfter = workerLostAfterMs(resolveConfig(stored));
  const alive = workers.filter((worker) => now - worker.heartbeat_at <= lostAfter).length;
  const oldestAge = raw.oldestPendingSince === null ? 0 : Math.max(0, now - raw.oldestPendingSince);
  const families = [
    family(
      "queuectl_jobs",
      "gauge",
      "Jobs in the store by state.",
      JOB_STATES.map((state) => sample("queuectl_jobs", counts[state], { state })),
    ),
    family("queuectl_jobs_completed_total", "counter", "Attempts that exited 0 and completed their job.", [
      sample("queuectl_jobs_completed_total", snapshot.completed),
    ]),
    family(
      "queuectl_jobs_failed_total",
      "counter",
      "Failed attempts that left a retry: the job became failed and waits for its backoff.",
      [sample("queuectl_jobs_failed_total", snapshot.failed)],
    ),
    family(
      "queuectl_jobs_dead_total",
      "counter",
      "Failed attempts that used the last retry: the job moved to the DLQ.",
      [sample("queuectl_jobs_dead_total", snapshot.dead)],
    ),
    family("queuectl_job_retries_total", "counter", "Retry attempts started (attempt number 2 and up).", [
      sample("queuectl_job_retries_total", snapshot.retries),
    ]),
    family(
      "queuectl_job_duration_seconds",
      "histogram",
      "Run time of finished attempts, from claim to exit.",
      histogramLines("queuectl_job_duration_seconds", snapshot.duration),
    ),
    family(
      "queuectl_job_wait_seconds",
      "histogram",
      "Time from enqueue (or the job's run_at or delay) to the start of its first attempt; includes waits on dependencies, paused queues and queue limits.",
      histogramLines("queuectl_job_wait_seconds", snapshot.wait),
    ),
    family(
      "queuectl_workers",
      "gauge",
      "Registered workers, alive or lost (no heartbeat within the lease).",
      [
        sample("queuectl_workers", alive, { status: "alive" }),
        sample("queuectl_workers", workers.length - alive, { status: "lost" }),
      ],
    ),
    family(
      "queuectl_oldest_pending_job_age_seconds",
      "gauge",
      "How long the longest-waiting pending job that is due and not blocked by dependencies has waited; 0 when none waits.",
      [sample("queuectl_oldest_pending_job_age_seconds", oldestAge / 1000)],
    ),
  ];
  const text = families.flatMap((f) => [
    `# HELP ${f.name} ${f.help}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.lines,
  ]);
  return `${text.join("\n")}\n`;
}
