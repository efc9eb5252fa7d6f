/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4).
 *
 * Counters and histograms come from the attempts table (see MetricsSnapshot), so every
 * dashboard process, on any host, exposes the same numbers for the same store; scrape
 * one of them. Gauges are read fresh on every scrape. Job counts, outcome counters and the
 * oldest wait carry a `queue` label, and every known queue has every series (zeros
 * included), so `sum()` and rates never see a series appear out of nowhere.
 */

import { isWorkerLost, resolveConfig, workerLostAfterMs } from "../core/config.ts";
import { JOB_STATES } from "../core/job.ts";
import type { HistogramCounts, QueueAttemptCounts, Store } from "../store/store.ts";
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

/** The text format's label escapes; queue names are restricted, but the format must hold whatever comes. */
function labelValue(text: string): string {
  return text.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));
}

function sample(name: string, value: number, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([key, text]) => `${key}="${labelValue(text)}"`);
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
  const [queues, workers, storeNow, stored, raw] = await Promise.all([
    store.queueList(),
    store.workerList(),
    // Heartbeats are judged on the store's clock, as `status` judges them.
    store.clockNow(),
    store.configGetAll(),
    store.metricsSnapshot({
      now,
      durationBoundsMs: DURATION_BOUNDS_S.map((s) => s * 1000),
      waitBoundsMs: WAIT_BOUNDS_S.map((s) => s * 1000),
    }),
  ]);
  const attempts = new Map(raw.attemptsByQueue.map((entry) => [entry.queue, entry]));
  const seen = series.labelsSeen("completed:");
  const names = [...new Set([...queues.map((queue) => queue.name), ...attempts.keys(), ...seen])].sort();
  /** A counter per queue, zero for queues whose jobs have not run yet. */
  const perQueue = (metric: string, key: keyof Omit<QueueAttemptCounts, "queue">) =>
    names.map((queue) =>
      sample(metric, series.value(`${key}:${queue}`, attempts.get(queue)?.[key] ?? 0), { queue }),
    );
  const duration = series.histogram("duration", raw.duration);
  const wait = series.histogram("wait", raw.wait);
  const lostAfter = workerLostAfterMs(resolveConfig(stored));
  const alive = workers.filter((worker) => !isWorkerLost(worker.heartbeat_at, storeNow, lostAfter)).length;
  const oldest = new Map(raw.oldestDueByQueue.map((entry) => [entry.queue, entry.since]));
  const families = [
    family(
      "queuectl_jobs",
      "gauge",
      "Jobs in the store by queue and state.",
      // Every queue the counters name, zero where purge left it no job.
      names.flatMap((name) => {
        const counts = queues.find((queue) => queue.name === name)?.counts;
        return JOB_STATES.map((state) =>
          sample("queuectl_jobs", counts?.[state] ?? 0, { queue: name, state }),
        );
      }),
    ),
    family(
      "queuectl_queue_paused",
      "gauge",
      "1 while a queue is paused (`queue pause`): its pending jobs are not claimed.",
      queues.map((queue) => sample("queuectl_queue_paused", queue.paused ? 1 : 0, { queue: queue.name })),
    ),
    family(
      "queuectl_queue_concurrency_limit",
      "gauge",
      "Running jobs a queue allows at once across every worker (`queue set --concurrency`); absent when unlimited.",
      queues
        .filter((queue) => queue.concurrency !== null)
        .map((queue) =>
          sample("queuectl_queue_concurrency_limit", queue.concurrency ?? 0, { queue: queue.name }),
        ),
    ),
    family(
      "queuectl_jobs_completed_total",
      "counter",
      "Attempts that exited 0 and completed their job.",
      perQueue("queuectl_jobs_completed_total", "completed"),
    ),
    family(
      "queuectl_jobs_failed_total",
      "counter",
      "Failed attempts that left a retry: the job became failed and waits for its backoff.",
      perQueue("queuectl_jobs_failed_total", "failed"),
    ),
    family(
      "queuectl_jobs_dead_total",
      "counter",
      "Failed attempts that used the last retry: the job moved to the DLQ.",
      perQueue("queuectl_jobs_dead_total", "dead"),
    ),
    family(
      "queuectl_job_retries_total",
      "counter",
      "Retry attempts started (attempt number 2 and up).",
      perQueue("queuectl_job_retries_total", "retries"),
    ),
    family(
      "queuectl_job_duration_seconds",
      "histogram",
      "Run time of finished attempts, from claim to exit.",
      histogramLines("queuectl_job_duration_seconds", duration),
    ),
    family(
      "queuectl_job_wait_seconds",
      "histogram",
      "Time from enqueue (or the job's run_at or delay) to the start of its first attempt; includes waits on dependencies, paused queues and queue limits.",
      histogramLines("queuectl_job_wait_seconds", wait),
    ),
    family(
      "queuectl_workers",
      "gauge",
      "Registered workers, alive or lost (no heartbeat for three heartbeat intervals, at least 10 s).",
      [
        sample("queuectl_workers", alive, { status: "alive" }),
        sample("queuectl_workers", workers.length - alive, { status: "lost" }),
      ],
    ),
    family(
      "queuectl_oldest_pending_job_age_seconds",
      "gauge",
      "Per queue, how long the longest-waiting pending job that is due and not blocked by dependencies has waited, counted from the later of its enqueue and its run time; 0 when none waits.",
      names.map((queue) => {
        const since = oldest.get(queue);
        const ageMs = since === undefined ? 0 : Math.max(0, now - since);
        return sample("queuectl_oldest_pending_job_age_seconds", ageMs / 1000, { queue });
      }),
    ),
  ];
  const text = families.flatMap((f) => [
    `# HELP ${f.name} ${f.help}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.lines,
  ]);
  return `${text.join("\n")}\n`;
}
