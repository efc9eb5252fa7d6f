/**
 * Rows 1 and 2: 5,000 `true` jobs run end to end by `queuectl worker run --concurrency N
 * --drain` (enqueueing excluded), beside a bare Bun.spawn loop with N in flight (row 1) and
 * task-spooler with N slots (row 2). The worker's time includes its own start and exit.
 * Row 2 runs twice: the string `true` (run under `sh -c`) and the argv job `["true"]`,
 * which queuectl execs without a shell, as tsp does with `tsp true`. Row 1 on PostgreSQL is
 * judged against SQLite's figure for the same slots, measured just before it: the machine's
 * speed drifts within minutes, so a pair measured far apart compares two machines.
 */

import { openStore } from "../src/store/open.ts";
import {
  type BenchContext,
  type BenchHome,
  type BenchRow,
  benchHome,
  CLI,
  enqueueJobs,
  fmtCount,
  fmtRate,
  perSecond,
  pool,
  timeCommand,
} from "./harness.ts";
import { pgSkipped, withPgSchema } from "./postgres.ts";
import { findTaskSpooler, taskSpoolerMs } from "./task-spooler.ts";

const CONCURRENCY = [1, 2, 4];
const RAW_GOAL = "≥ 0.8 of raw";
const SQLITE_GOAL = "≥ 0.8 of SQLite";

/** Baseline: spawn `sh -c true` `count` times with `concurrency` in flight, nothing else. */
export async function rawSpawnMs(count: number, concurrency: number): Promise<number> {
  const started = performance.now();
  await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async () => {
      await Bun.spawn(["sh", "-c", "true"], { stdio: ["ignore", "ignore", "ignore"] }).exited;
    },
  );
  return performance.now() - started;
}

/** Enqueues `count` `true` jobs (untimed), then times one draining worker with N slots. */
export async function queuectlMs(
  home: BenchHome,
  count: number,
  concurrency: number,
  command: string | string[] = "true",
): Promise<number> {
  await enqueueJobs(home, count, command, `${typeof command === "string" ? "c" : "a"}${concurrency}`);
  const elapsed = await timeCommand(
    ["bun", CLI, "worker", "run", "--concurrency", String(concurrency), "--drain"],
    home.env,
  );
  const store = await openStore({ url: home.db });
  try {
    const counts = await store.jobCounts();
    if (counts.completed !== counts.total)
      throw new Error(`only ${counts.completed} of ${counts.total} jobs completed`);
  } finally {
    await store.close();
  }
  return elapsed;
}

function rowOneWhat(backend: string, count: number, n: number): string {
  return `end to end, ${fmtCount(count)} \`true\` jobs, ${n} job slot${n > 1 ? "s" : ""} (\`worker run --concurrency ${n}\`), ${backend}`;
}

function rowOne(count: number, n: number, ms: number, rawMs: number): BenchRow {
  const rate = perSecond(count, ms);
  const raw = perSecond(count, rawMs);
  return {
    row: 1,
    what: rowOneWhat("SQLite", count, n),
    value: fmtRate(rate),
    baseline: `${fmtRate(raw)} (Bun.spawn loop, ${n} in flight)`,
    ratio: rate / raw,
    goal: RAW_GOAL,
    met: rate / raw >= 0.8,
    score: rate / raw,
  };
}

/** PostgreSQL's row 1: against SQLite's rate for the same slots, a goal at 2 slots and more. */
function rowOnePostgres(count: number, n: number, ms: number, sqliteMs: number, rawMs: number): BenchRow {
  const rate = perSecond(count, ms);
  const sqlite = perSecond(count, sqliteMs);
  const judged = n >= 2;
  return {
    row: 1,
    what: rowOneWhat("PostgreSQL", count, n),
    value: `${fmtRate(rate)} (${(rate / perSecond(count, rawMs)).toFixed(2)}× the Bun.spawn loop)`,
    baseline: `${fmtRate(sqlite)} (SQLite, ${n} slot${n > 1 ? "s" : ""}, measured just before)`,
    ratio: rate / sqlite,
    goal: judged ? SQLITE_GOAL : "—",
    met: judged ? rate / sqlite >= 0.8 : null,
    score: rate / sqlite,
  };
}

/** Rows 1 on PostgreSQL for `n` slots, measured right after SQLite's; none without a server. */
async function postgresRowOne(
  pgUrl: string | null,
  count: number,
  n: number,
  sqliteMs: number,
  rawMs: number,
): Promise<BenchRow[]> {
  if (!pgUrl) return [];
  return withPgSchema(pgUrl, async (url) => {
    const pgHome = benchHome(url);
    try {
      return [rowOnePostgres(count, n, await queuectlMs(pgHome, count, n), sqliteMs, rawMs)];
    } finally {
      pgHome.cleanup();
    }
  });
}

export async function benchEndToEnd(context: BenchContext): Promise<BenchRow[]> {
  const count = context.size(5_000, 200);
  const rows: BenchRow[] = [];
  const tspBin = findTaskSpooler();
  for (const n of CONCURRENCY) {
    const home = benchHome();
    try {
      // Interleaved, so a burst of machine noise hits both alike.
      const rawMs = await rawSpawnMs(count, n);
      const ms = await queuectlMs(home, count, n);
      rows.push(rowOne(count, n, ms, rawMs));
      rows.push(...(await postgresRowOne(context.pgUrl, count, n, ms, rawMs)));
      if (!tspBin) continue;
      const tspRate = perSecond(count, await taskSpoolerMs(tspBin, count, n));
      const argvMs = await queuectlMs(home, count, n, ["true"]);
      for (const [form, elapsed] of [
        ["`true`", ms],
        ['`["true"]` (argv, no shell)', argvMs],
      ] as const) {
        const rate = perSecond(count, elapsed);
        rows.push({
          row: 2,
          what: `against task-spooler, ${fmtCount(count)} ${form} jobs, ${n} slot${n > 1 ? "s" : ""}, SQLite`,
          value: fmtRate(rate),
          baseline: `${fmtRate(tspRate)} (\`tsp -S ${n}\`, \`tsp true\`)`,
          ratio: rate / tspRate,
          goal: "faster than tsp",
          met: rate > tspRate,
          score: rate / tspRate,
        });
      }
    } finally {
      home.cleanup();
    }
  }
  if (!tspBin) {
    rows.push({
      row: 2,
      what: "against task-spooler",
      value: "skipped",
      baseline: "—",
      ratio: null,
      goal: "faster than tsp",
      met: null,
      note: "tsp is not installed: `apt-get install task-spooler`",
    });
  }
  if (!context.pgUrl) rows.push(pgSkipped(1, "end to end", SQLITE_GOAL));
  return rows;
}
