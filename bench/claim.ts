/** Row 5: queue overhead without spawning — claim and complete cycles, in process, on a 100k-job table. */

import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../src/store/open.ts";
import { SqliteStore } from "../src/store/sqlite/backend.ts";
import type { RunResult, Store } from "../src/store/store.ts";
import { type BenchContext, type BenchRow, benchHome, fmtCount, fmtRate, perSecond } from "./harness.ts";
import { pgSkipped, withPgSchema } from "./postgres.ts";

const GOAL = "≥ 20,000 cycles/s";

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

/** Baseline on PostgreSQL: two one-row write transactions per cycle, through Bun.sql. */
async function pgFloorMs(url: string, cycles: number): Promise<number> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? "public";
  parsed.searchParams.delete("schema");
  const sql = new SQL(parsed.toString(), { max: 1, connection: { search_path: schema } });
  try {
    const started = performance.now();
    for (let i = 0; i < cycles; i++) {
      for (let k = 0; k < 2; k++) {
        await sql.begin((tx) => tx`UPDATE jobs SET updated_at = updated_at + 1 WHERE seq = ${i + 1}`);
      }
    }
    return performance.now() - started;
  } finally {
    await sql.close({ timeout: 0 });
  }
}

function row(
  backend: string,
  tableSize: number,
  cycles: number,
  elapsed: number,
  floor: number,
  how: string,
): BenchRow {
  const rate = perSecond(cycles, elapsed);
  const floorRate = perSecond(cycles, floor);
  return {
    row: 5,
    what: `claim + complete cycles in process, ${backend}, ${fmtCount(tableSize)}-job table`,
    value: fmtRate(rate, "cycles/s"),
    baseline: `${fmtRate(floorRate, "cycles/s")} (${how})`,
    ratio: rate / floorRate,
    goal: GOAL,
    met: rate >= 20_000,
    score: rate,
  };
}

export async function benchClaim(context: BenchContext): Promise<BenchRow[]> {
  const tableSize = context.size(100_000, 10_000);
  const cycles = context.size(20_000, 2_000);
  const rows: BenchRow[] = [];
  const home = benchHome();
  // NORMAL, as `worker run` opens the store.
  const store = new SqliteStore(join(home.home, "jobs.db"), { synchronous: "NORMAL" });
  try {
    await seedJobs(store, tableSize);
    const elapsed = await claimCompleteMs(store, cycles);
    const floor = floorMs(store, cycles);
    rows.push(row("SQLite", tableSize, cycles, elapsed, floor, "2 one-row write transactions"));
  } finally {
    await store.close();
    home.cleanup();
  }
  if (!context.pgUrl) {
    rows.push(pgSkipped(5, "claim + complete cycles in process", GOAL));
    return rows;
  }
  // Fewer cycles: each is a network round trip or more, so the rate is far below SQLite's.
  const pgCycles = Math.min(cycles, context.size(5_000, 500));
  await withPgSchema(context.pgUrl, async (url) => {
    const pg = await openStore({ url });
    try {
      await seedJobs(pg, tableSize);
      const elapsed = await claimCompleteMs(pg, pgCycles);
      const floor = await pgFloorMs(url, pgCycles);
      rows.push(row("PostgreSQL", tableSize, pgCycles, elapsed, floor, "2 one-row write transactions"));
    } finally {
      await pg.close();
    }
  });
  return rows;
}
