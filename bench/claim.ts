/** Row 5: queue overhead without spawning — claim and complete cycles, in process, on a 100k-job table. */

import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import type { RunResult, Store } from "../src/store/store.ts";
import { type BenchContext, type BenchRow, benchHome, fmtRate, perSecond } from "./harness.ts";

const OK: RunResult = {
  exitCode: 0,
  signal: null,
  error: null,
  stdoutBytes: 0,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
};

export async function seedJobs(store: Store, count: number): Promise<void> {
  const jobs = Array.from({ length: count }, (_, i) => ({
    spec: { id: `job-${i}`, command: "true" },
    revision: "r",
    maxRetries: 3,
    nextRunAt: 0,
    source: null,
  }));
  await store.jobInsertMany({ jobs, now: 1 });
}

/** Claims and completes `cycles` jobs one at a time, as a worker with one slot does. */
export async function claimCompleteMs(store: Store, cycles: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const now = Date.now();
    const job = await store.jobClaim({ workerId: "bench", host: "bench", now, leaseMs: 30_000 });
    if (!job) throw new Error("the queue ran dry during the claim benchmark");
    await store.jobComplete({ id: job.id, token: job.token, now, result: OK });
  }
  return performance.now() - started;
}

/**
 * Baseline: the floor any durable claim/complete pair pays on the same file — two write
 * transactions, each updating one row by primary key.
 */
function floorMs(store: SqliteStore, cycles: number): number {
  const db = store.database;
  const touch = db.query("UPDATE jobs SET updated_at = updated_at + 1 WHERE seq = ?");
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    db.transaction(() => touch.run(i + 1)).immediate();
    db.transaction(() => touch.run(i + 1)).immediate();
  }
  return performance.now() - started;
}

export async function benchClaimSqlite(context: BenchContext): Promise<BenchRow> {
  const tableSize = context.size(100_000, 10_000);
  const cycles = context.size(20_000, 2_000);
  const home = benchHome();
  const store = new SqliteStore(join(home.home, "jobs.db"), { synchronous: "NORMAL" });
  try {
    await seedJobs(store, tableSize);
    const elapsed = await claimCompleteMs(store, cycles);
    const floor = floorMs(store, cycles);
    const rate = perSecond(cycles, elapsed);
    return {
      row: 5,
      what: `claim + complete cycles in process, SQLite, ${tableSize.toLocaleString("en-US")}-job table`,
      value: fmtRate(rate, "cycles/s"),
      baseline: `${fmtRate(perSecond(cycles, floor), "cycles/s")} (2 one-row write transactions)`,
      ratio: rate / perSecond(cycles, floor),
      goal: "≥ 20,000 cycles/s",
      met: rate >= 20_000,
    };
  } finally {
    await store.close();
    home.cleanup();
  }
}
