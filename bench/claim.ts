/**
 * Row 5: queue overhead without spawning — claim and complete cycles, in process, on a
 * 100k-job table, the way `worker run` does them: each transaction completes the jobs that
 * ended and claims as many again (`jobCompleteAndClaim`). A worker with N slots claims ahead
 * as well (run-gate.ts): after runs that took next to no time it holds N + `--prefetch`
 * (8 by default on SQLite, 32 on PostgreSQL) jobs, so each of its transactions carries up
 * to that many of each. The row with the goal measures that; a second row measures a worker
 * that claims only for its free slots (`--prefetch 0`), for comparison. Every job still gets
 * its own attempt row, token and lease, taken when it is claimed.
 */

import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../src/store/open.ts";
import { SqliteStore } from "../src/store/sqlite/backend.ts";
import type { RunResult, Store } from "../src/store/store.ts";
import { AHEAD_HOLD_MS, claimsAhead, DEFAULT_PREFETCH } from "../src/worker/run-gate.ts";
import { type BenchContext, type BenchRow, benchHome, fmtCount, fmtRate, perSecond } from "./harness.ts";
import { pgSkipped, withPgSchema } from "./postgres.ts";

const GOALS = { SQLite: 20_000, PostgreSQL: 5_000 } as const;
const SLOTS = [1, 4];
const goalText = (backend: keyof typeof GOALS) => `≥ ${fmtCount(GOALS[backend])} cycles/s`;

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

/**
 * Jobs a worker with `slots` slots holds when its runs take no time: its free slots and, with
 * a `prefetch` above 0, the jobs it then claims ahead (the worker's own rule, claimsAhead).
 */
export function heldPerRound(slots: number, prefetch: number): number {
  return slots + claimsAhead([0], slots, prefetch, AHEAD_HOLD_MS);
}

/**
 * Runs `cycles` claim + complete cycles as a worker does when its jobs end at once: each
 * round completes the jobs of the last one and claims `perRound` more.
 */
export async function completeAndClaimMs(store: Store, cycles: number, perRound: number): Promise<number> {
  const started = performance.now();
  let held: { id: string; token: number }[] = [];
  let completed = 0;
  while (completed < cycles) {
    const round = await store.jobCompleteAndClaim({
      completions: held.map((job) => ({ id: job.id, token: job.token, result: OK })),
      claim: { workerId: "bench", host: "bench", leaseMs: 30_000, limit: perRound },
      now: Date.now(),
    });
    if (round.completed.some((done) => !done)) throw new Error("a completion was fenced off");
    completed += held.length;
    held = round.claimed;
    if (held.length === 0) throw new Error("the queue ran dry during the claim benchmark");
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

interface Measured {
  backend: keyof typeof GOALS;
  tableSize: number;
  slots: number;
  prefetch: number;
  cycles: number;
  elapsed: number;
  floor: number;
}

function row({ backend, tableSize, slots, prefetch, cycles, elapsed, floor }: Measured): BenchRow {
  const rate = perSecond(cycles, elapsed);
  const floorRate = perSecond(cycles, floor);
  const held = heldPerRound(slots, prefetch);
  const how = prefetch > 0 ? `default \`--prefetch ${prefetch}\`` : "`--prefetch 0`, for comparison";
  return {
    row: 5,
    what: `claim + complete cycles in process, ${backend}, ${fmtCount(tableSize)}-job table, ${slots} slot${slots > 1 ? "s" : ""}, ${how} (up to ${held} of each per transaction)`,
    value: fmtRate(rate, "cycles/s"),
    baseline: `${fmtRate(floorRate, "cycles/s")} (2 one-row write transactions per cycle)`,
    ratio: rate / floorRate,
    // The worker as users run it carries the goal; the row without claims ahead shows what they buy.
    goal: prefetch > 0 ? goalText(backend) : "—",
    met: prefetch > 0 ? rate >= GOALS[backend] : null,
    score: rate,
  };
}

/** Both ways a worker may claim: as users run it on each store, and claiming only for its free slots. */
const PREFETCHES = { SQLite: [DEFAULT_PREFETCH.sqlite, 0], PostgreSQL: [DEFAULT_PREFETCH.postgres, 0] };

export async function benchClaim(context: BenchContext): Promise<BenchRow[]> {
  const tableSize = context.size(100_000, 10_000);
  const cycles = context.size(20_000, 2_000);
  const rows: BenchRow[] = [];
  const home = benchHome();
  // As `worker run` opens the store: NORMAL, and the WAL checkpointed on its own thread.
  const store = new SqliteStore(join(home.home, "jobs.db"), {
    synchronous: "NORMAL",
    checkpointInBackground: true,
  });
  try {
    await seedJobs(store, tableSize);
    for (const slots of SLOTS) {
      for (const prefetch of PREFETCHES.SQLite) {
        const elapsed = await completeAndClaimMs(store, cycles, heldPerRound(slots, prefetch));
        const floor = floorMs(store, cycles);
        rows.push(row({ backend: "SQLite", tableSize, slots, prefetch, cycles, elapsed, floor }));
      }
    }
  } finally {
    await store.close();
    home.cleanup();
  }
  if (!context.pgUrl) {
    rows.push(pgSkipped(5, "claim + complete cycles in process", goalText("PostgreSQL")));
    return rows;
  }
  // Fewer cycles: each round is a few network round trips, so the rate is far below SQLite's.
  const pgCycles = Math.min(cycles, context.size(5_000, 500));
  await withPgSchema(context.pgUrl, async (url) => {
    const pg = await openStore({ url });
    try {
      await seedJobs(pg, tableSize);
      for (const slots of SLOTS) {
        for (const prefetch of PREFETCHES.PostgreSQL) {
          const elapsed = await completeAndClaimMs(pg, pgCycles, heldPerRound(slots, prefetch));
          const floor = await pgFloorMs(url, pgCycles);
          rows.push(
            row({ backend: "PostgreSQL", tableSize, slots, prefetch, cycles: pgCycles, elapsed, floor }),
          );
        }
      }
    } finally {
      await pg.close();
    }
  });
  return rows;
}
