/**
 * Shared pieces of the benchmark suite: a result row that always carries its baseline,
 * percentiles, temp homes, child processes, and the CLI path. Benchmarks never run inside
 * `bun test`.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  /** The figure the goal is judged on, as a number: repeated runs report the run with the median score. */
  score?: number;
}

export interface BenchContext {
  /** 1 for the full sizes; smaller for a quick smoke run (`--quick`). */
  scale: number;
  /** Sizes scaled, never below `min`. */
  size: (full: number, min?: number) => number;
  /** QUEUECTL_TEST_PG_URL when set: rows that also run on PostgreSQL use it. */
  pgUrl: string | null;
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

export function fmtMb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

export function fmtCount(count: number): string {
  return count.toLocaleString("en-US");
}

export interface BenchHome {
  home: string;
  db: string;
  env: Record<string, string>;
  cleanup: () => void;
}

/**
 * A fresh QUEUECTL_HOME. `db` is the SQLite file unless a PostgreSQL URL is given, which
 * then becomes QUEUECTL_DB for every child. Colour stays off: it is not what is measured.
 */
export function benchHome(dbUrl?: string): BenchHome {
  const home = mkdtempSync(join(tmpdir(), "queuectl-bench-"));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    QUEUECTL_HOME: home,
    NO_COLOR: "1",
  };
  delete env.QUEUECTL_DB;
  if (dbUrl) env.QUEUECTL_DB = dbUrl;
  return {
    home,
    db: dbUrl ?? join(home, "jobs.db"),
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
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr}`);
  return elapsed;
}

/** Writes `count` `{"command":…}` jobs as NDJSON and enqueues them with the CLI, untimed. */
export async function enqueueJobs(
  home: BenchHome,
  count: number,
  command: string | string[],
  prefix = "job",
): Promise<void> {
  const file = join(home.home, `${prefix}.ndjson`);
  const json = JSON.stringify(command);
  writeFileSync(
    file,
    Array.from({ length: count }, (_, i) => `{"id":"${prefix}-${i}","command":${json}}`).join("\n"),
  );
  await timeCommand(["bun", CLI, "enqueue", "-f", file], home.env);
  rmSync(file);
}

export interface Background {
  child: Bun.Subprocess<"ignore", "ignore", "pipe">;
  /** Everything the process wrote to stderr so far (and all of it once it exited). */
  stderr: () => string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop: (graceMs?: number) => Promise<void>;
}

/** Starts a long-running child (a worker, a watcher) whose stderr is collected, not shown. */
export function background(argv: string[], env: Record<string, string>): Background {
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  let text = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  return {
    child,
    stderr: () => text,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await child.exited;
      clearTimeout(timer);
      await reading;
    },
  };
}

/** VmRSS and VmHWM of a live process, in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
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

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
