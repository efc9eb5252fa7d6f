/**
 * `/metrics` from a real dashboard process over a real SQLite file, parsed by the strict
 * text-format parser, with every counter and histogram bucket checked against runs whose
 * timing the test wrote itself.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";
import { type Family, parsePrometheusText, seriesSum, seriesValue } from "./prometheus-parser.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let dashboard: RunningDashboard;

async function scrape(): Promise<{ families: Map<string, Family>; response: Response }> {
  const response = await fetch(`${dashboard.origin}/metrics`, { headers: dashboard.auth });
  return { families: parsePrometheusText(await response.text()), response };
}

beforeAll(async () => {
  home = tempHome();
  const store = openTestStore(home.home);
  const now = Date.now();
  const base = now - 600_000;
  await enqueue(store, { id: "fast", command: "true" }, base);
  await runJob(store, "fast", { start: base + 30, end: base + 80, exitCode: 0 });
  await enqueue(store, { id: "slow", command: "true" }, base + 1000);
  await runJob(store, "slow", { start: base + 1700, end: base + 4700, exitCode: 0 });
  await enqueue(store, { id: "flaky", command: "true", max_retries: 2 }, base + 5000);
  await runJob(store, "flaky", { start: base + 7000, end: base + 7200, exitCode: 1 });
  await runJob(store, "flaky", { start: base + 11_200, end: base + 31_200, exitCode: 0 });
  await enqueue(store, { id: "doomed", command: "false", max_retries: 1 }, base + 40_000);
  await runJob(store, "doomed", { start: base + 40_100, end: base + 40_500, exitCode: 1 });
  await runJob(store, "doomed", { start: base + 41_000, end: base + 41_600, exitCode: 1 });
  // Due 60 s after enqueue: its wait starts then, not at enqueue.
  await enqueue(store, { id: "delayed", command: "true", delay: "60s" }, base + 60_000);
  await runJob(store, "delayed", { start: base + 120_400, end: base + 121_400, exitCode: 0 });
  await enqueue(store, { id: "mail-2", command: "false", queue: "emails", max_retries: 0 }, base + 50_000);
  await runJob(store, "mail-2", { start: base + 50_500, end: base + 50_600, exitCode: 1 });
  await enqueue(store, { id: "waiting", command: "true" }, now - 120_000);
  await enqueue(store, { id: "later", command: "true", delay: "1h" }, now);
  // Enqueued 30 s ago with a run_at two years back: it has waited 30 s, not two years.
  await enqueue(
    store,
    {
      id: "mail-1",
      command: "true",
      queue: "emails",
      run_at: new Date(now - 2 * 365 * 86_400_000).toISOString(),
    },
    now - 30_000,
  );
  await store.queueSet({ name: "emails", paused: true, concurrency: 2 });
  await store.queueSet({ name: "idle", paused: false });
  await store.workerRegister({ id: "w-alive", host: "h1", pid: 1, now, queues: null });
  await store.workerRegister({ id: "w-lost", host: "h2", pid: 2, now: now - 600_000, queues: null });
  await store.close();
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

describe("/metrics", () => {
  test("is strict Prometheus text with the right content type", async () => {
    const { response, families } = await scrape();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect([...families.keys()]).toEqual([
      "queuectl_jobs",
      "queuectl_queue_paused",
      "queuectl_queue_concurrency_limit",
      "queuectl_jobs_completed_total",
      "queuectl_jobs_failed_total",
      "queuectl_jobs_dead_total",
      "queuectl_job_retries_total",
      "queuectl_job_duration_seconds",
      "queuectl_job_wait_seconds",
      "queuectl_workers",
      "queuectl_oldest_pending_job_age_seconds",
    ]);
    expect(families.get("queuectl_job_duration_seconds")?.type).toBe("histogram");
    expect(families.get("queuectl_jobs_dead_total")?.type).toBe("counter");
  });

  test("gauges count jobs by queue and state, queue switches, and workers by liveness", async () => {
    const { families } = await scrape();
    const jobs = (queue: string) =>
      ["pending", "processing", "completed", "failed", "dead", "canceled"].map((state) =>
        seriesValue(families, "queuectl_jobs", { queue, state }),
      );
    expect(jobs("default")).toEqual([2, 0, 4, 0, 1, 0]);
    expect(jobs("emails")).toEqual([1, 0, 0, 0, 1, 0]);
    // A queue with settings and no jobs still has its series, at zero.
    expect(jobs("idle")).toEqual([0, 0, 0, 0, 0, 0]);
    expect(seriesSum(families, "queuectl_jobs", { state: "pending" })).toBe(3);
    expect(seriesValue(families, "queuectl_queue_paused", { queue: "emails" })).toBe(1);
    expect(seriesValue(families, "queuectl_queue_paused", { queue: "default" })).toBe(0);
    expect(seriesValue(families, "queuectl_queue_concurrency_limit", { queue: "emails" })).toBe(2);
    expect(families.get("queuectl_queue_concurrency_limit")?.samples).toHaveLength(1);
    expect(seriesValue(families, "queuectl_workers", { status: "alive" })).toBe(1);
    expect(seriesValue(families, "queuectl_workers", { status: "lost" })).toBe(1);
    // Liveness follows the heartbeat, not the lease (as `status` judges it); the help says so.
    expect(families.get("queuectl_workers")?.help).toContain("heartbeat");
    expect(families.get("queuectl_workers")?.help).not.toContain("lease");
  });

  test("counters come from finished attempts by queue and outcome", async () => {
    const { families } = await scrape();
    const counters = (queue: string) =>
      [
        "queuectl_jobs_completed_total",
        "queuectl_jobs_failed_total",
        "queuectl_jobs_dead_total",
        "queuectl_job_retries_total",
      ].map((name) => seriesValue(families, name, { queue }));
    expect(counters("default")).toEqual([4, 2, 1, 2]);
    expect(counters("emails")).toEqual([0, 0, 1, 0]);
    expect(counters("idle")).toEqual([0, 0, 0, 0]);
  });

  test("the duration histogram buckets every finished attempt", async () => {
    const { families } = await scrape();
    const bucket = (le: string) => seriesValue(families, "queuectl_job_duration_seconds_bucket", { le });
    // Durations: 0.05, 3, 0.2, 20, 0.4, 0.6, 1.0, and mail-2's 0.1 seconds.
    expect([
      bucket("0.1"),
      bucket("0.5"),
      bucket("1"),
      bucket("2.5"),
      bucket("5"),
      bucket("10"),
      bucket("30"),
    ]).toEqual([2, 4, 6, 6, 7, 7, 8]);
    expect(bucket("+Inf")).toBe(8);
    expect(seriesValue(families, "queuectl_job_duration_seconds_count")).toBe(8);
    expect(seriesValue(families, "queuectl_job_duration_seconds_sum")).toBeCloseTo(25.35, 6);
  });

  test("the wait histogram measures first attempts from when the job was due", async () => {
    const { families } = await scrape();
    const bucket = (le: string) => seriesValue(families, "queuectl_job_wait_seconds_bucket", { le });
    // First-attempt waits: fast 0.03, slow 0.7, flaky 2.0, doomed 0.1, delayed 0.4 (not 60.4),
    // mail-2 0.5.
    expect([
      bucket("0.05"),
      bucket("0.1"),
      bucket("0.25"),
      bucket("0.5"),
      bucket("1"),
      bucket("2.5"),
    ]).toEqual([1, 2, 2, 4, 5, 6]);
    expect(seriesValue(families, "queuectl_job_wait_seconds_count")).toBe(6);
    expect(seriesValue(families, "queuectl_job_wait_seconds_sum")).toBeCloseTo(3.73, 6);
  });

  test("the oldest pending age counts due, unblocked jobs only, from when they were enqueued", async () => {
    // A job blocked on its dependencies for an hour is not waiting for a worker.
    const store = openTestStore(home.home);
    await enqueue(store, { id: "blocked-old", command: "true" }, Date.now() - 3_600_000);
    store.database.run("UPDATE jobs SET blocked = 1 WHERE id = 'blocked-old'");
    try {
      const { families } = await scrape();
      const age = (queue: string) =>
        seriesValue(families, "queuectl_oldest_pending_job_age_seconds", { queue });
      // `waiting` was enqueued 120 s before the server started; `later` is not due for an hour.
      expect(age("default")).toBeGreaterThanOrEqual(120);
      expect(age("default")).toBeLessThan(3000);
      // mail-1's run_at is two years old, but it was enqueued 30 s before the server started.
      expect(age("emails")).toBeGreaterThanOrEqual(30);
      expect(age("emails")).toBeLessThan(3000);
      expect(age("idle")).toBe(0);
    } finally {
      store.database.run("DELETE FROM jobs WHERE id = 'blocked-old'");
      await store.close();
    }
  });

  test("counters never go down when the DLQ is retried", async () => {
    const response = await fetch(`${dashboard.origin}/api/dlq/retry`, {
      method: "POST",
      headers: dashboard.auth,
    });
    expect(await response.json()).toEqual({ retried: ["doomed", "mail-2"] });
    const { families } = await scrape();
    const queue = "default";
    expect(seriesValue(families, "queuectl_jobs", { queue, state: "dead" })).toBe(0);
    expect(seriesValue(families, "queuectl_jobs", { queue, state: "pending" })).toBe(3);
    expect(seriesValue(families, "queuectl_jobs_dead_total", { queue })).toBe(1);
    expect(seriesValue(families, "queuectl_jobs_failed_total", { queue })).toBe(2);
    expect(seriesValue(families, "queuectl_jobs_dead_total", { queue: "emails" })).toBe(1);
  });

  test("deleting history (as purge does) never makes a counter go down", async () => {
    const before = (await scrape()).families;
    const store = openTestStore(home.home);
    store.database.run("DELETE FROM attempts WHERE job_id = 'fast'");
    store.database.run("DELETE FROM jobs WHERE id = 'fast'");
    const after = (await scrape()).families;
    const queue = { queue: "default" };
    expect(seriesValue(after, "queuectl_jobs_completed_total", queue)).toBe(
      seriesValue(before, "queuectl_jobs_completed_total", queue),
    );
    expect(seriesValue(after, "queuectl_job_duration_seconds_count")).toBe(
      seriesValue(before, "queuectl_job_duration_seconds_count"),
    );
    expect(seriesValue(after, "queuectl_job_duration_seconds_bucket", { le: "0.1" })).toBe(2);
    // New work still counts on top.
    await runJob(store, "waiting", { start: Date.now(), end: Date.now() + 10, exitCode: 0 });
    await store.close();
    const later = (await scrape()).families;
    expect(seriesValue(later, "queuectl_jobs_completed_total", queue)).toBe(5);
    expect(seriesValue(later, "queuectl_job_duration_seconds_count")).toBe(9);
    expect(seriesValue(later, "queuectl_job_duration_seconds_bucket", { le: "0.1" })).toBe(3);
  });

  test("a queue purge emptied keeps its series: counters hold, job gauges read zero", async () => {
    const store = openTestStore(home.home);
    // Ahead of everything else waiting, so that the next claim takes it.
    await enqueue(store, { id: "once", command: "true", queue: "oneoff", priority: 100 }, Date.now());
    await runJob(store, "once", { start: Date.now(), end: Date.now() + 5, exitCode: 0 });
    const queue = { queue: "oneoff" };
    expect(seriesValue((await scrape()).families, "queuectl_jobs_completed_total", queue)).toBe(1);
    store.database.run("DELETE FROM attempts WHERE job_id = 'once'");
    store.database.run("DELETE FROM jobs WHERE id = 'once'");
    await store.close();
    const after = (await scrape()).families;
    expect(seriesValue(after, "queuectl_jobs_completed_total", queue)).toBe(1);
    expect(seriesValue(after, "queuectl_jobs_failed_total", queue)).toBe(0);
    expect(seriesValue(after, "queuectl_jobs", { ...queue, state: "completed" })).toBe(0);
  });
});
