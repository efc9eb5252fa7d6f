/**
 * Shared pieces of the benchmark suite: a result row that always carries its baseline,
 * percentiles, temp homes, and the CLI path. Benchmarks never run inside `bun test`.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CLI = resolve(import.meta.dir, "../src/cli.ts");

export interface BenchRow {
  row: number;
  what: string;
  /** The measured figure, formatted with its unit. */
  value: string;
  /** The baseline measured in the same run, formatted with its unit. */
  baseline: string;
  /** value ÷ baseline, oriented so that > 1 means "more than the baseline". */
  ratio: number | null;
  goal: string;
  met: boolean | null;
  note?: string;
}

export interface BenchContext {
  /** 1 for the full sizes; smaller for a quick smoke run (`--quick`). */
  scale: number;
  /** Sizes scaled, never below `min`. */
  size: (full: number, min?: number) => number;
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function perSecond(count: number, ms: number): number {
  return count / (ms / 1000);
}

export function fmtRate(perSec: number, unit = "jobs/s"): string {
  return `${Math.round(perSec).toLocaleString("en-US")} ${unit}`;
}

export function fmtMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

export interface BenchHome {
  home: string;
  db: string;
  env: Record<string, string>;
  cleanup: () => void;
}

export function benchHome(): BenchHome {
  const home = mkdtempSync(join(tmpdir(), "queuectl-bench-"));
  const env = { ...(process.env as Record<string, string>), QUEUECTL_HOME: home, NO_COLOR: "1" };
  delete (env as Record<string, string | undefined>).QUEUECTL_DB;
  return {
    home,
    db: join(home, "jobs.db"),
    env,
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

/** Runs a command to completion and returns its wall time in ms; throws on a non-zero exit. */
export async function timeCommand(
  argv: string[],
  env: Record<string, string>,
  stdin?: Blob,
): Promise<number> {
  const started = performance.now();
  const child = Bun.spawn(argv, { env, stdin: stdin ?? "ignore", stdout: "ignore", stderr: "pipe" });
  const code = await child.exited;
  const elapsed = performance.now() - started;
  if (code !== 0)
    throw new Error(`${argv.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
  return elapsed;
}

/** Polls until `check` is true or the deadline passes; benchmarks fail loudly instead of hanging. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(intervalMs);
  }
  throw new Error(`benchmark timed out waiting for ${what}`);
}
