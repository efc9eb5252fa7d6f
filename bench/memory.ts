/**
 * Row 9: memory of a worker process (VmRSS from /proc/<pid>/status). Idle: after it has
 * registered and settled, beside an idle bare Bun process. Growth: the highest VmRSS while
 * one job prints 1 GB, minus the RSS just before, beside a bare Bun process that spawns the
 * same command and drains its output without keeping it.
 */

import { openStore } from "../src/store/open.ts";
import {
  type BenchContext,
  type BenchRow,
  background,
  benchHome,
  CLI,
  fmtMb,
  memoryOf,
  until,
} from "./harness.ts";

const SETTLE_MS = 2_000;

function printsCommand(bytes: number): string {
  return `yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c ${bytes}`;
}

const DRAIN = `
await Bun.sleep(${SETTLE_MS});
console.log("ready");
await Bun.sleep(100);
const child = Bun.spawn(["sh", "-c", process.argv[1]], { stdout: "pipe", stderr: "pipe" });
let bytes = 0;
for await (const chunk of child.stdout) bytes += chunk.length;
await child.exited;
`;

/** The highest VmRSS of `pid` seen until `done` settles, sampled every 10 ms. */
async function peakRss(pid: number, done: Promise<unknown>): Promise<number> {
  let finished = false;
  done.finally(() => {
    finished = true;
  });
  let peak = 0;
  while (!finished) {
    try {
      peak = Math.max(peak, memoryOf(pid).rss);
    } catch {
      break;
    }
    await Bun.sleep(10);
  }
  return peak;
}

async function bareBun(bytes: number): Promise<{ idle: number; growth: number }> {
  const child = Bun.spawn(["bun", "-e", DRAIN, printsCommand(bytes)], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  await reader.read();
  // Idle for 100 ms after "ready", then draining.
  const idle = memoryOf(child.pid).rss;
  const peak = await peakRss(child.pid, child.exited);
  return { idle, growth: Math.max(0, peak - idle) };
}

export async function benchMemory(context: BenchContext): Promise<BenchRow[]> {
  const bytes = context.size(1_000_000_000, 20_000_000);
  const home = benchHome();
  const store = await openStore({ url: home.db });
  const worker = background(["bun", CLI, "worker", "run"], home.env);
  try {
    await until(async () => (await store.workerList()).length === 1, 15_000, "the worker to register", 20);
    await Bun.sleep(SETTLE_MS);
    const idle = memoryOf(worker.child.pid).rss;
    const base = await bareBun(bytes);
    await store.jobInsertMany({
      jobs: [
        {
          spec: { id: "loud", command: printsCommand(bytes) },
          revision: "r",
          maxRetries: 0,
          nextRunAt: 0,
          source: null,
        },
      ],
      now: Date.now(),
    });
    const before = memoryOf(worker.child.pid).rss;
    const finished = until(
      async () => (await store.jobGet({ id: "loud" }))?.state === "completed",
      300_000,
      "the loud job",
      50,
    );
    const peak = await peakRss(worker.child.pid, finished);
    await finished;
    const { hwm } = memoryOf(worker.child.pid);
    const growth = Math.max(0, peak - before);
    const size = `${(bytes / 1e9).toFixed(bytes >= 1e8 ? 1 : 2)} GB`;
    return [
      {
        row: 9,
        what: "idle worker RSS (`worker run`, registered and settled)",
        value: fmtMb(idle),
        baseline: `${fmtMb(base.idle)} (an idle bare Bun process)`,
        ratio: idle / base.idle,
        goal: "≤ 60 MB",
        met: idle <= 60 * 2 ** 20,
        score: -idle,
      },
      {
        row: 9,
        what: `worker RSS growth while a job prints ${size}`,
        value: `${fmtMb(growth)} (VmHWM after: ${fmtMb(hwm)})`,
        baseline: `${fmtMb(base.growth)} (bare Bun draining the same output)`,
        ratio: base.growth > 0 ? growth / base.growth : null,
        goal: "≤ 20 MB",
        met: growth <= 20 * 2 ** 20,
        score: -growth,
      },
    ];
  } finally {
    await worker.stop();
    await store.close();
    home.cleanup();
  }
}
