/**
 * Rows 3 and 4: bulk enqueue from NDJSON, and the latency of one `queuectl enqueue` and one
 * `queuectl status` call. The memory of bulk input (row 3 too) is in bulk-memory.ts.
 */

import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
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

const BUILD_SCRIPT = resolve(import.meta.dir, "../src/build-binary.ts");

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

/**
 * Row 3 judges the `queuectl` users run, the binary `bun install` builds, and reports the
 * sources beside it; each form writes a fresh store in a home of its own (the default
 * `jobs.db`: a `--db` path costs a check of the file first).
 */
export async function benchBulkEnqueue(context: BenchContext): Promise<BenchRow[]> {
  const count = context.size(100_000, 5_000);
  const home = benchHome();
  try {
    const file = join(home.home, "jobs.ndjson");
    writeFileSync(
      file,
      Array.from({ length: count }, (_, i) => `{"id":"job-${i}","command":"true"}`).join("\n"),
    );
    const binary = await buildBinary(home.home);
    const forms = [
      { name: ", the installed binary", argv: [binary], judged: true },
      { name: " from the sources, `bun src/cli.ts`, for comparison", argv: ["bun", CLI], judged: false },
    ];
    const elapsed: number[] = [];
    for (const form of forms) {
      const own = benchHome();
      try {
        elapsed.push(await timeCommand([...form.argv, "enqueue", "-f", file], own.env));
      } finally {
        own.cleanup();
      }
    }
    const baseline = perSecond(count, rawInsertMs(join(home.home, "raw.db"), count));
    return forms.map((form, index) => {
      const rate = perSecond(count, elapsed[index] as number);
      return {
        row: 3,
        what: `bulk enqueue of ${count.toLocaleString("en-US")} jobs from NDJSON (whole CLI process${form.name})`,
        value: fmtRate(rate),
        baseline: `${fmtRate(baseline)} (raw bun:sqlite inserts)`,
        ratio: rate / baseline,
        goal: form.judged ? "≥ 200,000 jobs/s" : "—",
        met: form.judged ? rate >= 200_000 : null,
        score: rate,
      };
    });
  } finally {
    home.cleanup();
  }
}

/** Builds the binary `bun run build` makes into `dir`, untimed; returns its path. */
async function buildBinary(dir: string): Promise<string> {
  const binary = join(dir, "queuectl");
  await timeCommand(["bun", BUILD_SCRIPT, binary], process.env as Record<string, string>);
  return binary;
}

/**
 * Both ways to run the CLI: as the binary `bun install` builds (src/build-binary.ts), the
 * `queuectl` that `npm link` installs, and from its sources (`bun src/cli.ts`, what that
 * binary runs once they change, until the next build), each beside the same bare starts.
 */
export async function benchEnqueueLatency(context: BenchContext): Promise<BenchRow[]> {
  const calls = context.size(200, 20);
  const home = benchHome();
  // As a script runs it: output not to a terminal, NO_COLOR unset, so the colour probe is paid.
  const env = { ...home.env };
  delete env.NO_COLOR;
  try {
    const binary = await buildBinary(home.home);
    const forms = [
      { name: " (the installed binary)", argv: [binary], judged: true },
      { name: " (from the sources, `bun src/cli.ts`, for comparison)", argv: ["bun", CLI], judged: false },
    ];
    const bare: number[] = [];
    const samples = forms.map(() => ({ enqueue: [] as number[], status: [] as number[] }));
    // Interleaved, so a burst of machine noise hits every series alike.
    for (let i = 0; i < calls; i++) {
      bare.push(await timeCommand(["bun", "-e", "0"], env));
      for (const [index, form] of forms.entries()) {
        const series = samples[index] as { enqueue: number[]; status: number[] };
        const id = `job-${index}-${i}`;
        series.enqueue.push(
          await timeCommand([...form.argv, "enqueue", `{"id":"${id}","command":"true"}`], env),
        );
        series.status.push(await timeCommand([...form.argv, "status"], env));
      }
    }
    const bareP50 = percentile(bare, 50);
    const baseline = `${fmtMs(bareP50)} / ${fmtMs(percentile(bare, 95))} (\`bun -e 0\`)`;
    const row = (command: string, form: (typeof forms)[number], samples: number[]): BenchRow => {
      const p50 = percentile(samples, 50);
      return {
        row: 4,
        what: `one \`queuectl ${command}\` call${form.name}, p50 / p95 over ${calls} calls`,
        value: `${fmtMs(p50)} / ${fmtMs(percentile(samples, 95))}`,
        baseline,
        ratio: p50 / bareP50,
        goal: form.judged ? "p50 ≤ 3× a bare Bun start" : "—",
        met: form.judged ? p50 <= 3 * bareP50 : null,
        score: -p50 / bareP50,
      };
    };
    return forms.flatMap((form, index) => {
      const series = samples[index] as { enqueue: number[]; status: number[] };
      return [row("enqueue", form, series.enqueue), row("status", form, series.status)];
    });
  } finally {
    home.cleanup();
  }
}
