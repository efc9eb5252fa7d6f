/**
 * Row 7: latency from a jobfile dropped into a watched folder to its start, with
 * `queuectl watch DIR` and an idle `queuectl worker run`, both with default settings (the
 * watcher waits for a file to settle before reading it). Baseline: an fs.watch callback in
 * this process spawning the same command, which is the floor of "see a file, run a job".
 */

import { type FSWatcher, mkdirSync, readFileSync, watch, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import {
  type Background,
  type BenchContext,
  type BenchRow,
  background,
  benchHome,
  CLI,
  fmtCount,
  fmtMs,
  percentile,
  timeCommand,
  until,
} from "./harness.ts";
import { PROBE_COMMAND, probeStartedAt, spawnLatencyMs, wallMs } from "./probe.ts";
import { writeJobfiles } from "./sync.ts";

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

const LARGE_FOLDER = 20_000;

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Share of one core `pid` uses over `windowMs` of wall time, in percent. */
async function idleCpuPercent(pid: number, windowMs: number): Promise<number> {
  const before = cpuMs(pid);
  const started = performance.now();
  await Bun.sleep(windowMs);
  return ((cpuMs(pid) - before) / (performance.now() - started)) * 100;
}

/** Time from writing `name` into `dir` to its job being in the store. */
async function queuedAfterMs(store: Store, dir: string, name: string, watcher: Background): Promise<number> {
  const started = wallMs();
  writeFileSync(join(dir, name), "command: echo changed\n");
  const id = name.replace(/\.yaml$/, "");
  await until(
    async () => {
      if (watcher.child.exitCode !== null) throw new Error(`the watcher exited: ${watcher.stderr()}`);
      return (await store.jobGet({ id })) !== null;
    },
    20_000,
    `${name} to be queued`,
    2,
  );
  return wallMs() - started;
}

/** A watcher over `dir` whose first sync is done, with the store it writes. */
async function startedWatcher(dir: string, env: Record<string, string>, store: Store): Promise<Background> {
  const watcher = background(["bun", CLI, "watch", dir], env);
  const ready = `ready-${basename(dir)}`;
  writeFileSync(join(dir, `${ready}.yaml`), "command: echo ready\n");
  await until(async () => (await store.jobGet({ id: ready })) !== null, 600_000, "the first sync", 50);
  return watcher;
}

/**
 * Rows 11 and 12: one change in a folder of 20,000 jobfiles → queued, and the CPU an idle
 * watcher over that folder uses (over 65 s, so one periodic full re-sync is included).
 * Baselines from the same run: row 11 the same watcher over an empty folder (so the ratio
 * is what the folder's size costs a change); row 12 a bare Bun process holding a recursive
 * fs.watch on the same folder, the floor of any watcher.
 */
export async function benchWatchLargeFolder(context: BenchContext): Promise<BenchRow[]> {
  const count = context.size(LARGE_FOLDER, 500);
  const samples = context.size(15, 5);
  const windowMs = context.scale < 1 ? 5_000 : 65_000;
  const home = benchHome();
  const large = join(home.home, "large");
  const empty = join(home.home, "empty");
  writeJobfiles(large, count);
  mkdirSync(empty);
  const store = await openStore({ url: home.db });
  const children: Background[] = [];
  try {
    await timeCommand(["bun", CLI, "sync", large], home.env);
    const emptyWatcher = await startedWatcher(empty, home.env, store);
    children.push(emptyWatcher);
    const largeWatcher = await startedWatcher(large, home.env, store);
    children.push(largeWatcher);
    const latencies: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < samples; i++) {
      await Bun.sleep(150 + Math.random() * 100);
      latencies.push(await queuedAfterMs(store, large, `change-${i}.yaml`, largeWatcher));
      await Bun.sleep(150 + Math.random() * 100);
      baseline.push(await queuedAfterMs(store, empty, `empty-${i}.yaml`, emptyWatcher));
    }
    if (process.env.BENCH_DEBUG) console.error({ latencies, baseline });
    await emptyWatcher.stop();
    const floor = background(
      [
        "bun",
        "-e",
        `require("node:fs").watch(process.argv[1], { recursive: true }, () => {}); setInterval(() => {}, 1e9);`,
        large,
      ],
      home.env,
    );
    children.push(floor);
    await Bun.sleep(2_000); // both past their start-up
    const [watcherCpu, floorCpu] = await Promise.all([
      idleCpuPercent(largeWatcher.child.pid, windowMs),
      idleCpuPercent(floor.child.pid, windowMs),
    ]);
    const p50 = percentile(latencies, 50);
    const baseP50 = percentile(baseline, 50);
    return [
      {
        row: 11,
        what: `one change in a watched folder of ${fmtCount(count)} jobfiles → queued, p50 (p95) over ${samples}, SQLite`,
        value: `${fmtMs(p50)} (${fmtMs(percentile(latencies, 95))})`,
        baseline: `${fmtMs(baseP50)} (${fmtMs(percentile(baseline, 95))}) (the same watcher, empty folder)`,
        ratio: p50 / baseP50,
        goal: "p50 ≤ 300 ms",
        met: p50 <= 300,
        score: -p50,
      },
      {
        row: 12,
        what: `idle watcher over ${fmtCount(count)} jobfiles, CPU over ${windowMs / 1000} s${windowMs > 60_000 ? " (one full re-sync)" : ""}`,
        value: `${watcherCpu.toFixed(2)} % of a core`,
        baseline: `${floorCpu.toFixed(2)} % (bare recursive fs.watch on the folder)`,
        ratio: floorCpu > 0 ? watcherCpu / floorCpu : null,
        goal: "< 1 % of a core",
        met: watcherCpu < 1,
        score: -watcherCpu,
      },
    ];
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await store.close();
    home.cleanup();
  }
}
