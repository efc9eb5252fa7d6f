/**
 * Row 7: latency from a jobfile dropped into a watched folder to its start, with
 * `queuectl watch DIR` and an idle `queuectl worker run`, both with default settings (the
 * watcher waits for a file to settle before reading it). Baseline: an fs.watch callback in
 * this process spawning the same command, which is the floor of "see a file, run a job".
 */

import { type FSWatcher, mkdirSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
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
import { PROBE_COMMAND, probeStartedAt, spawnLatencyMs, wallMs } from "./probe.ts";

const JOBFILE = `command: [${PROBE_COMMAND.map((part) => JSON.stringify(part)).join(", ")}]\n`;

/** Baseline: write a file into a folder this process watches; on the event, spawn the probe. */
async function watchSpawnLatencyMs(watcher: FSWatcher, dir: string, name: string): Promise<number> {
  const seen = new Promise<void>((resolve) => {
    const onChange = (_event: string, file: string | Buffer | null) => {
      if (String(file) !== name) return;
      watcher.off("change", onChange);
      resolve();
    };
    watcher.on("change", onChange);
  });
  const started = wallMs();
  writeFileSync(join(dir, name), JOBFILE);
  await seen;
  // spawnLatencyMs measures from its own start; add the time the event took to arrive.
  const eventAt = wallMs();
  return eventAt - started + (await spawnLatencyMs());
}

export async function benchWatchLatency(context: BenchContext): Promise<BenchRow> {
  const samples = context.size(20, 5);
  const home = benchHome();
  const jobs = join(home.home, "jobs");
  const plain = join(home.home, "plain");
  mkdirSync(jobs);
  mkdirSync(plain);
  const store = await openStore({ url: home.db });
  const children: Background[] = [];
  const baseWatcher = watch(plain);
  try {
    children.push(background(["bun", CLI, "watch", jobs], home.env));
    children.push(background(["bun", CLI, "worker", "run"], home.env));
    // A first file proves the watcher has done its initial sync and the worker is up.
    writeFileSync(join(jobs, "warm-up.yaml"), JOBFILE);
    await probeStartedAt(store, "warm-up", children);
    await until(async () => (await store.workerList()).length === 1, 15_000, "the worker to register", 20);
    const latencies: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < samples; i++) {
      await Bun.sleep(200 + Math.random() * 100);
      const started = wallMs();
      writeFileSync(join(jobs, `probe-${i}.yaml`), JOBFILE);
      latencies.push((await probeStartedAt(store, `probe-${i}`, children)) - started);
      baseline.push(await watchSpawnLatencyMs(baseWatcher, plain, `probe-${i}.yaml`));
    }
    const p50 = percentile(latencies, 50);
    const baseP50 = percentile(baseline, 50);
    return {
      row: 7,
      what: `jobfile dropped into a watched folder → start, p50 (p95) over ${samples} files, SQLite`,
      value: `${fmtMs(p50)} (${fmtMs(percentile(latencies, 95))})`,
      baseline: `${fmtMs(baseP50)} (${fmtMs(percentile(baseline, 95))}) (fs.watch + Bun.spawn in one process)`,
      ratio: p50 / baseP50,
      goal: "p50 ≤ 300 ms",
      met: p50 <= 300,
      score: -p50,
    };
  } finally {
    baseWatcher.close();
    await Promise.all(children.map((child) => child.stop()));
    await store.close();
    home.cleanup();
  }
}
