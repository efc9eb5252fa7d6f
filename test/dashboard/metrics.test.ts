/**
 * `/metrics` from a real dashboard process over a real SQLite file, parsed by the strict
 * text-format parser, with every counter and histogram bucket checked against runs whose
 * timing the test wrote itself.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";
import { type Family, parsePrometheusText, seriesValue } from "./prometheus-parser.ts";
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
  await enqueue(store, { id: "waiting", command: "true" }, now - 120_000);
  await enqueue(store, { id: "later", command: "true", delay: "1h" }, now);
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

  test("gauges count jobs by state and workers by liveness", async () => {
    const { families } = await scrape();
    const jobs = (state: string) => seriesValue(families, "queuectl_jobs", { state });
    expect([
      jobs("pending"),
      jobs("processing"),
      jobs("completed"),
      jobs("failed"),
      jobs("dead"),
      jobs("canceled"),
    ]).toEqual([2, 0, 4, 0, 1, 0]);
    expect(seriesValue(families, "queuectl_workers", { status: "alive" })).toBe(1);
    expect(seriesValue(families, "queuectl_workers", { status: "lost" })).toBe(1);
  });

  test("counters come from finished attempts by outcome", async () => {
    const { families } = await scrape();
    expect(seriesValue(families, "queuectl_jobs_completed_total")).toBe(4);
    expect(seriesValue(families, "queuectl_jobs_failed_total")).toBe(2);
    expect(seriesValue(families, "queuectl_jobs_dead_total")).toBe(1);
    expect(seriesValue(families, "queuectl_job_retries_total")).toBe(2);
  });

  test("the duration histogram buckets every finished attempt", async () => {
    const { families } = await scrape();
    const bucket = (le: string) => seriesValue(families, "queuectl_job_duration_seconds_bucket", { le });
    // Durations: 0.05, 3, 0.2, 20, 0.4, 0.6, 1.0 seconds.
    expect([
      bucket("0.1"),
      bucket("0.5"),
      bucket("1"),
      bucket("2.5"),
      bucket("5"),
      bucket("10"),
      bucket("30"),
    ]).toEqual([1, 3, 5, 5, 6, 6, 7]);
    expect(bucket("+Inf")).toBe(7);
    expect(seriesValue(families, "queuectl_job_duration_seconds_count")).toBe(7);
    expect(seriesValue(families, "queuectl_job_duration_seconds_sum")).toBeCloseTo(25.25, 6);
  });

  test("the wait histogram measures first attempts from when the job was due", async () => {
    const { families } = await scrape();
    const bucket = (le: string) => seriesValue(families, "queuectl_job_wait_seconds_bucket", { le });
    // First-attempt waits: fast 0.03, slow 0.7, flaky 2.0, doomed 0.1, delayed 0.4 (not 60.4).
    expect([
      bucket("0.05"),
      bucket("0.1"),
      bucket("0.25"),
      bucket("0.5"),
      bucket("1"),
      bucket("2.5"),
    ]).toEqual([1, 2, 2, 3, 4, 5]);
    expect(seriesValue(families, "queuectl_job_wait_seconds_count")).toBe(5);
    expect(seriesValue(families, "queuectl_job_wait_seconds_sum")).toBeCloseTo(3.23, 6);
  });

  test("the oldest pending age counts due, unblocked jobs only", async () => {
    // A job blocked on its dependencies for an hour is not waiting for a worker.
    const store = openTestStore(home.home);
    await enqueue(store, { id: "blocked-old", command: "true" }, Date.now() - 3_600_000);
    store.database.run("UPDATE jobs SET blocked = 1 WHERE id = 'blocked-old'");
    try {
      const { families } = await scrape();
      const age = seriesValue(families, "queuectl_oldest_pending_job_age_seconds");
      // `waiting` was enqueued 120 s before the server started; `later` is not due for an hour.
      expect(age).toBeGreaterThanOrEqual(120);
      expect(age).toBeLessThan(3000);
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
    expect(await response.json()).toEqual({ retried: ["doomed"] });
    const { families } = await scrape();
    expect(seriesValue(families, "queuectl_jobs", { state: "dead" })).toBe(0);
    expect(seriesValue(families, "queuectl_jobs", { state: "pending" })).toBe(3);
    expect(seriesValue(families, "queuectl_jobs_dead_total")).toBe(1);
    expect(seriesValue(families, "queuectl_jobs_failed_total")).toBe(2);
  });

  test("deleting history (as purge does) never makes a counter go down", async () => {
    const before = (await scrape()).families;
    const store = openTestStore(home.home);
    store.database.run("DELETE FROM attempts WHERE job_id = 'fast'");
    store.database.run("DELETE FROM jobs WHERE id = 'fast'");
    const after = (await scrape()).families;
    for (const name of ["queuectl_jobs_completed_total", "queuectl_job_duration_seconds_count"]) {
      expect(seriesValue(after, name)).toBe(seriesValue(before, name));
    }
    expect(seriesValue(after, "queuectl_job_duration_seconds_bucket", { le: "0.1" })).toBe(1);
    // New work still counts on top.
    await runJob(store, "waiting", { start: Date.now(), end: Date.now() + 10, exitCode: 0 });
    await store.close();
    const later = (await scrape()).families;
    expect(seriesValue(later, "queuectl_jobs_completed_total")).toBe(5);
    expect(seriesValue(later, "queuectl_job_duration_seconds_count")).toBe(8);
    expect(seriesValue(later, "queuectl_job_duration_seconds_bucket", { le: "0.1" })).toBe(2);
  });
});
