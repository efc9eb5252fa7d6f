/**
 * Rows 3 and 4: bulk enqueue from NDJSON, and the latency of one `queuectl enqueue` and one
 * `queuectl status` call. The memory of bulk input (row 3 too) is in bulk-memory.ts.
 */

import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/migrations.ts";
import {
  type BenchContext,
  type BenchRow,
  benchHome,
  CLI,
  fmtMs,
  fmtRate,
  percentile,
  perSecond,
  timeCommand,
} from "./harness.ts";

/** Baseline: the same rows inserted by hand with one prepared statement in one transaction. */
function rawInsertMs(path: string, count: number): number {
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run(SQLITE_MIGRATIONS[0]?.sql ?? "");
  const insert = db.query(
    "INSERT INTO jobs (id, spec, revision, state, max_retries, created_at, updated_at, next_run_at) VALUES (?, ?, 'r', 'pending', 3, 1, 1, 1)",
  );
  const started = performance.now();
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`job-${i}`, `{"id":"job-${i}","command":"true"}`);
  })();
  const elapsed = performance.now() - started;
  db.close();
  return elapsed;
}

export async function benchBulkEnqueue(context: BenchContext): Promise<BenchRow> {
  const count = context.size(100_000, 5_000);
  const home = benchHome();
  try {
    const file = join(home.home, "jobs.ndjson");
    writeFileSync(
      file,
      Array.from({ length: count }, (_, i) => `{"id":"job-${i}","command":"true"}`).join("\n"),
    );
    const elapsed = await timeCommand(["bun", CLI, "enqueue", "-f", file], home.env);
    const baseline = rawInsertMs(join(home.home, "raw.db"), count);
    const rate = perSecond(count, elapsed);
    return {
      row: 3,
      what: `bulk enqueue of ${count.toLocaleString("en-US")} jobs from NDJSON (whole CLI process)`,
      value: fmtRate(rate),
      baseline: `${fmtRate(perSecond(count, baseline))} (raw bun:sqlite inserts)`,
      ratio: rate / perSecond(count, baseline),
      goal: "≥ 200,000 jobs/s",
      met: rate >= 200_000,
      score: rate,
    };
  } finally {
    home.cleanup();
  }
}

export async function benchEnqueueLatency(context: BenchContext): Promise<BenchRow[]> {
  const calls = context.size(200, 20);
  const home = benchHome();
  // As a script runs it: output not to a terminal, NO_COLOR unset, so the colour probe is paid.
  const env = { ...home.env };
  delete env.NO_COLOR;
  try {
    const bare: number[] = [];
    const enqueue: number[] = [];
    const status: number[] = [];
    // Interleaved, so a burst of machine noise hits every series alike.
    for (let i = 0; i < calls; i++) {
      bare.push(await timeCommand(["bun", "-e", "0"], env));
      enqueue.push(await timeCommand(["bun", CLI, "enqueue", `{"id":"job-${i}","command":"true"}`], env));
      status.push(await timeCommand(["bun", CLI, "status"], env));
    }
    const bareP50 = percentile(bare, 50);
    const baseline = `${fmtMs(bareP50)} / ${fmtMs(percentile(bare, 95))} (\`bun -e 0\`)`;
    const row = (command: string, samples: number[]): BenchRow => {
      const p50 = percentile(samples, 50);
      return {
        row: 4,
        what: `one \`queuectl ${command}\` call, p50 / p95 over ${calls} calls`,
        value: `${fmtMs(p50)} / ${fmtMs(percentile(samples, 95))}`,
        baseline,
        ratio: p50 / bareP50,
        goal: "p50 ≤ 3× a bare Bun start",
        met: p50 <= 3 * bareP50,
        score: -p50 / bareP50,
      };
    };
    return [row("enqueue", enqueue), row("status", status)];
  } finally {
    home.cleanup();
  }
}
