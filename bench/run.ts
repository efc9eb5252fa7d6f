/**
 * `bun run bench [--quick] [--only 1,3,5] [--runs N]`: runs the benchmark suite, prints a
 * table where every figure stands beside its baseline from the same run, and writes
 * bench/RESULTS.md. Each benchmark runs N times (3 by default, 1 with --quick) and the run
 * with the median score is reported, baseline and all, since the machine is shared and noisy.
 * `--quick` scales sizes down for a smoke run; its figures are not comparable to the goals.
 * Rows 1, 5, 6 and 10 also run on PostgreSQL when QUEUECTL_TEST_PG_URL is set.
 */

import { resolve } from "node:path";
import { benchBulkMemory } from "./bulk-memory.ts";
import { benchClaim } from "./claim.ts";
import { benchContention } from "./contention.ts";
import { benchEndToEnd } from "./end-to-end.ts";
import { benchBulkEnqueue, benchEnqueueLatency } from "./enqueue.ts";
import type { BenchContext, BenchRow } from "./harness.ts";
import { benchStartLatency } from "./latency.ts";
import { describeMachine } from "./machine.ts";
import { benchMemory } from "./memory.ts";
import { pgBaseUrl } from "./postgres.ts";
import { benchSync } from "./sync.ts";
import { benchSyncDependencies } from "./sync-dependencies.ts";
import { benchWatchLargeFolder, benchWatchLatency } from "./watch.ts";

type Bench = {
  rows: number[];
  run: (context: BenchContext) => Promise<BenchRow | BenchRow[]>;
  /** Runs of this benchmark in a full run; long ones whose figure is a count run once. */
  runs?: number;
};

const BENCHES: Bench[] = [
  { rows: [1, 2], run: benchEndToEnd },
  { rows: [3], run: benchBulkEnqueue },
  { rows: [3], run: benchBulkMemory },
  { rows: [4], run: benchEnqueueLatency },
  { rows: [5], run: benchClaim },
  { rows: [6], run: benchStartLatency },
  { rows: [7], run: benchWatchLatency },
  { rows: [8], run: benchSync },
  { rows: [8], run: benchSyncDependencies },
  { rows: [9], run: benchMemory },
  { rows: [10], run: benchContention, runs: 1 },
  { rows: [11, 12], run: benchWatchLargeFolder },
];

interface Args {
  quick: boolean;
  only: Set<number> | null;
  runs: number | null;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes("--quick");
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? (argv[index + 1] ?? "") : null;
  };
  const only = value("--only");
  const runs = value("--runs");
  return {
    quick,
    only: only === null ? null : new Set(only.split(",").map(Number)),
    runs: runs === null ? null : Math.max(1, Number(runs) || 1),
  };
}

function failedRow(row: number, error: unknown): BenchRow {
  return {
    row,
    what: "failed to run",
    value: "—",
    baseline: "—",
    ratio: null,
    goal: "—",
    met: false,
    note: String((error as Error)?.message ?? error).split("\n")[0],
  };
}

/** Per row label, the result of the run with the median score (the lower middle for even counts). */
function medianRuns(runs: BenchRow[][]): BenchRow[] {
  const byLabel = new Map<string, BenchRow[]>();
  for (const rows of runs) {
    for (const row of rows) {
      const key = `${row.row} ${row.what}`;
      byLabel.set(key, [...(byLabel.get(key) ?? []), row]);
    }
  }
  return [...byLabel.values()].map((results) => {
    const scored = results.filter((r) => r.score !== undefined && Number.isFinite(r.score));
    if (scored.length === 0) return results[results.length - 1] as BenchRow;
    const sorted = [...scored].sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
    const median = sorted[Math.floor((sorted.length - 1) / 2)] as BenchRow;
    return results.length > 1
      ? { ...median, note: [median.note, `median of ${results.length} runs`].filter(Boolean).join("; ") }
      : median;
  });
}

function table(rows: BenchRow[]): string {
  const header =
    "| # | what | queuectl | baseline (same run) | ratio | goal | met |\n|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const ratio = r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`;
    const met = r.met === null ? "—" : r.met ? "yes" : "**no**";
    return `| ${r.row} | ${r.what}${r.note ? ` (${r.note})` : ""} | ${r.value} | ${r.baseline} | ${ratio} | ${r.goal} | ${met} |`;
  });
  return [header, ...lines].join("\n");
}

async function main(): Promise<void> {
  const { quick, only, runs } = parseArgs(process.argv.slice(2));
  const scale = quick ? 0.05 : 1;
  const context: BenchContext = {
    scale,
    size: (full, min = 1) => Math.max(min, Math.round(full * scale)),
    pgUrl: pgBaseUrl(),
  };
  const rows: BenchRow[] = [];
  for (const bench of BENCHES) {
    if (only && !bench.rows.some((row) => only.has(row))) continue;
    const times = runs ?? (quick ? 1 : (bench.runs ?? 3));
    const results: BenchRow[][] = [];
    for (let run = 1; run <= times; run++) {
      process.stderr.write(`bench rows ${bench.rows.join(", ")}, run ${run}/${times} …\n`);
      try {
        const result = await bench.run(context);
        results.push(Array.isArray(result) ? result : [result]);
      } catch (error) {
        results.push([failedRow(bench.rows[0] ?? 0, error)]);
      }
    }
    rows.push(...medianRuns(results).filter((row) => !only || only.has(row.row)));
  }
  rows.sort((a, b) => a.row - b.row);
  const machine = describeMachine();
  const text = table(rows);
  console.log(text);
  console.log(`\nMachine: ${machine}`);
  if (quick || only) {
    console.log("\n(--quick or --only: bench/RESULTS.md left unchanged)");
    return;
  }
  const results = [
    "# Benchmark results",
    "",
    `Machine: ${machine}`,
    `Date: ${new Date().toISOString()}`,
    `Command: \`bun run bench\`${context.pgUrl ? " with QUEUECTL_TEST_PG_URL set" : ""}`,
    "",
    "The machine is shared with other work while this runs, so timings are noisy: each",
    "benchmark ran several times and the row shows the run with the median score, beside",
    "the baseline measured in that same run.",
    "",
    text,
    "",
  ].join("\n");
  const path = resolve(import.meta.dir, "RESULTS.md");
  await Bun.write(path, results);
  // The repository's formatter aligns Markdown tables; `biome check .` fails on a file it would change.
  const biome = resolve(import.meta.dir, "../node_modules/.bin/biome");
  try {
    await Bun.spawn([biome, "format", "--write", path], { stdio: ["ignore", "ignore", "ignore"] }).exited;
  } catch {
    // Without dev dependencies the file is still right, only not aligned.
  }
  console.log("\nwritten to bench/RESULTS.md");
}

await main();
