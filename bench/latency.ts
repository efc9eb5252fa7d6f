/**
 * Row 6: latency from enqueue to start with idle workers. Two `worker run` processes wait;
 * the bench enqueues one job at a time (through the same flow as `queuectl enqueue`, with a
 * durable commit) and the job prints the moment its process runs. The clock starts before
 * the enqueue, so the figure includes the commit, the wake-up, the claim and the spawn.
 */

import { openStore } from "../src/store/open.ts";
import {
  type Background,
  type BenchContext,
  type BenchRow,
  background,
  benchHome,
  CLI,
  fmtMs,
  percentile,
  until,
} from "./harness.ts";
import { pgSkipped, withPgSchema } from "./postgres.ts";
import { enqueueProbe, probeStartedAt, spawnLatencyMs, wallMs } from "./probe.ts";

const GOAL = "p50 ≤ 50 ms";
const WORKERS = 2;

async function measure(backend: string, samples: number, dbUrl?: string): Promise<BenchRow> {
  const home = benchHome(dbUrl);
  const store = await openStore({ url: home.db });
  const workers: Background[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(background(["bun", CLI, "worker", "run"], home.env));
    await until(
      async () => (await store.workerList()).length === WORKERS,
      15_000,
      "the workers to register",
      20,
    );
    const latencies: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < samples; i++) {
      // Idle means idle: past any wake-up left from the last job, at a random phase of the poll.
      await Bun.sleep(100 + Math.random() * 100);
      const started = wallMs();
      await enqueueProbe(store, `probe-${i}`);
      latencies.push((await probeStartedAt(store, `probe-${i}`, workers)) - started);
      baseline.push(await spawnLatencyMs());
    }
    const errors = workers.map((worker) => worker.stderr()).join("");
    if (errors.trim() !== "") throw new Error(`a worker wrote to stderr: ${errors.trim().split("\n")[0]}`);
    const p50 = percentile(latencies, 50);
    const baseP50 = percentile(baseline, 50);
    return {
      row: 6,
      what: `enqueue → start latency, ${WORKERS} idle workers, p50 / p95 over ${samples} jobs, ${backend}`,
      value: `${fmtMs(p50)} / ${fmtMs(percentile(latencies, 95))}`,
      baseline: `${fmtMs(baseP50)} / ${fmtMs(percentile(baseline, 95))} (Bun.spawn of the same command)`,
      ratio: p50 / baseP50,
      goal: GOAL,
      met: p50 <= 50,
      score: -p50,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await store.close();
    home.cleanup();
  }
}

export async function benchStartLatency(context: BenchContext): Promise<BenchRow[]> {
  const samples = context.size(50, 10);
  const rows = [await measure("SQLite", samples)];
  if (!context.pgUrl) rows.push(pgSkipped(6, "enqueue → start latency", GOAL));
  else rows.push(await withPgSchema(context.pgUrl, (url) => measure("PostgreSQL", samples, url)));
  return rows;
}
