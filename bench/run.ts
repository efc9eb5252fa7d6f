/**
 * `bun run bench [--quick] [--only 1,3,5]`: runs the benchmark suite, prints a table where
 * every figure stands beside its baseline from the same run, and writes bench/RESULTS.md.
 * `--quick` scales sizes down for a smoke run; its figures are not comparable to the goals.
 */

import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";
import { benchClaimSqlite } from "./claim.ts";
import { benchBulkEnqueue, benchEnqueueLatency } from "./enqueue.ts";
import type { BenchContext, BenchRow } from "./harness.ts";

type Bench = { row: number; run: (context: BenchContext) => Promise<BenchRow | BenchRow[]> };

const BENCHES: Bench[] = [
  { row: 3, run: benchBulkEnqueue },
  { row: 4, run: benchEnqueueLatency },
  { row: 5, run: benchClaimSqlite },
];

function parseArgs(argv: string[]): { quick: boolean; only: Set<number> | null } {
  const quick = argv.includes("--quick");
  const onlyIndex = argv.indexOf("--only");
  const only = onlyIndex >= 0 ? new Set((argv[onlyIndex + 1] ?? "").split(",").map(Number)) : null;
  return { quick, only };
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
  const { quick, only } = parseArgs(process.argv.slice(2));
  const scale = quick ? 0.05 : 1;
  const context: BenchContext = { scale, size: (full, min = 1) => Math.max(min, Math.round(full * scale)) };
  const rows: BenchRow[] = [];
  for (const bench of BENCHES) {
    if (only && !only.has(bench.row)) continue;
    process.stderr.write(`bench row ${bench.row} …\n`);
    try {
      const result = await bench.run(context);
      rows.push(...(Array.isArray(result) ? result : [result]));
    } catch (error) {
      rows.push({
        row: bench.row,
        what: "failed to run",
        value: "—",
        baseline: "—",
        ratio: null,
        goal: "—",
        met: false,
        note: (error as Error).message.split("\n")[0],
      });
    }
  }
  rows.sort((a, b) => a.row - b.row);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}, ${process.platform}`;
  const text = table(rows);
  console.log(text);
  if (quick) {
    console.log("\n(--quick: sizes scaled down; bench/RESULTS.md left unchanged)");
    return;
  }
  const results = `# Benchmark results\n\nMachine: ${machine}\nDate: ${new Date().toISOString()}\nCommand: \`bun run bench\`\n\n${text}\n`;
  await Bun.write(resolve(import.meta.dir, "RESULTS.md"), results);
  console.log("\nwritten to bench/RESULTS.md");
}

await main();
