/**
 * Row 10: 4 workers and 8 enqueuers on one store at once. Each enqueuer runs `queuectl
 * enqueue -f` again and again with batches of 250 jobs until 100,000 jobs are in, while the
 * workers run them; then the queue drains. Every line any of these processes wrote to stderr
 * is read: a "database is locked" / SQLITE_BUSY there is an error a user would see.
 * Baseline: the same pattern of writers on raw bun:sqlite without a busy timeout, to show
 * how many of those errors that access pattern provokes when nothing handles them.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/store/open.ts";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/migrations.ts";
import {
  type Background,
  type BenchContext,
  type BenchHome,
  type BenchRow,
  background,
  benchHome,
  CLI,
  fmtCount,
  until,
} from "./harness.ts";
import { pgSkipped, withPgSchema } from "./postgres.ts";

const WORKERS = 4;
const ENQUEUERS = 8;
const BATCH = 250;
const GOAL = "0 errors surfaced";
const LOCKED = /SQLITE_BUSY|database is locked|\blocked\b/i;

interface Outcome {
  locked: number;
  other: string[];
  seconds: number;
  completed: number;
}

function countErrors(stderr: string[]): { locked: number; other: string[] } {
  const lines = stderr.flatMap((text) => text.split("\n")).filter((line) => line.trim() !== "");
  return {
    locked: lines.filter((line) => LOCKED.test(line)).length,
    other: lines.filter((line) => !LOCKED.test(line)),
  };
}

async function enqueuer(home: BenchHome, index: number, jobs: number, stderr: string[]): Promise<void> {
  for (let first = 0; first < jobs; first += BATCH) {
    const file = join(home.home, `enqueuer-${index}.ndjson`);
    const count = Math.min(BATCH, jobs - first);
    writeFileSync(
      file,
      Array.from({ length: count }, (_, i) => `{"id":"e${index}-${first + i}","command":"true"}`).join("\n"),
    );
    const child = Bun.spawn(["bun", CLI, "enqueue", "-f", file], {
      env: home.env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const [text, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    if (text !== "") stderr.push(text);
    else if (code !== 0) stderr.push(`enqueue exited ${code}`);
  }
}

async function runQueuectl(total: number, dbUrl?: string): Promise<Outcome> {
  const home = benchHome(dbUrl);
  const store = await openStore({ url: home.db });
  const workers: Background[] = [];
  const stderr: string[] = [];
  try {
    const started = performance.now();
    for (let i = 0; i < WORKERS; i++) workers.push(background(["bun", CLI, "worker", "run"], home.env));
    const share = Math.ceil(total / ENQUEUERS);
    await Promise.all(
      Array.from({ length: ENQUEUERS }, (_, i) =>
        enqueuer(home, i, Math.min(share, total - i * share), stderr),
      ),
    );
    let completed = 0;
    await until(
      async () => {
        completed = (await store.jobCounts()).completed;
        if (workers.every((worker) => worker.child.exitCode !== null)) throw new Error("every worker exited");
        return completed >= total;
      },
      30 * 60_000,
      "the queue to drain",
      500,
    );
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(workers.map((worker) => worker.stop()));
    return { ...countErrors([...stderr, ...workers.map((worker) => worker.stderr())]), seconds, completed };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await store.close();
    home.cleanup();
  }
}

const RAW_WRITER = `
import { Database } from "bun:sqlite";
const [path, role, index, jobs, batch] = process.argv.slice(1);
const db = new Database(path);
db.run("PRAGMA journal_mode = WAL");
let busy = 0;
let attempts = 0;
const attempt = (work) => {
  attempts++;
  try { db.transaction(work).immediate(); return true; }
  catch (error) { if (/locked|busy/i.test(String(error))) { busy++; return false; } throw error; }
};
if (role === "insert") {
  const insert = db.query("INSERT INTO jobs (id, spec, revision, state, max_retries, created_at, updated_at, next_run_at) VALUES (?, '{}', 'r', 'pending', 3, 1, 1, 1)");
  for (let first = 0; first < Number(jobs); first += Number(batch)) {
    attempt(() => { for (let i = first; i < Math.min(Number(jobs), first + Number(batch)); i++) insert.run("r" + index + "-" + i); });
  }
} else {
  const claim = db.query("UPDATE jobs SET state = 'processing' WHERE seq = (SELECT seq FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1) RETURNING seq");
  const complete = db.query("UPDATE jobs SET state = 'completed' WHERE seq = ?");
  // One claim and one completion per job, as a worker with one slot does, paced like a 1 ms job.
  for (let i = 0; i < Number(jobs); i++) {
    let seq = null;
    attempt(() => { seq = claim.all()[0]?.seq ?? null; });
    if (seq !== null) attempt(() => complete.run(seq));
    Bun.sleepSync(1);
  }
}
console.log(busy, attempts);
`;

/** Raw writers without a busy timeout: how many of their write transactions SQLITE_BUSY fails. */
async function rawBusy(total: number): Promise<{ busy: number; attempts: number }> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-bench-raw-"));
  try {
    const path = join(dir, "raw.db");
    const { Database } = await import("bun:sqlite");
    const db = new Database(path, { create: true });
    db.run("PRAGMA journal_mode = WAL");
    db.run(SQLITE_MIGRATIONS[0]?.sql ?? "");
    db.close();
    const share = Math.ceil(total / ENQUEUERS);
    // The claimers stop after a tenth of the jobs each: enough to collide, without a long run.
    const claims = Math.ceil(total / WORKERS / 10);
    const argv = (role: string, index: number, amount: number) => [
      "bun",
      "-e",
      RAW_WRITER,
      path,
      role,
      String(index),
      String(amount),
      String(BATCH),
    ];
    const children = [
      ...Array.from({ length: ENQUEUERS }, (_, i) => argv("insert", i, share)),
      ...Array.from({ length: WORKERS }, (_, i) => argv("claim", i, claims)),
    ].map((args) => Bun.spawn(args, { stdio: ["ignore", "pipe", "inherit"] }));
    const outputs = await Promise.all(children.map((child) => new Response(child.stdout).text()));
    let busy = 0;
    let attempts = 0;
    for (const text of outputs) {
      const [b, a] = text.trim().split(" ").map(Number);
      busy += b || 0;
      attempts += a || 0;
    }
    return { busy, attempts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(backend: string, total: number, outcome: Outcome, baseline: string): BenchRow {
  const errors = outcome.locked + outcome.other.length;
  const first = outcome.other[0];
  return {
    row: 10,
    what: `${WORKERS} workers + ${ENQUEUERS} enqueuers, ${fmtCount(total)} jobs at once, ${backend}: errors in any stderr`,
    value: `${outcome.locked} busy/locked, ${outcome.other.length} other; ${fmtCount(outcome.completed)} jobs done in ${outcome.seconds.toFixed(0)} s`,
    baseline,
    ratio: null,
    goal: GOAL,
    met: errors === 0 && outcome.completed >= total,
    score: -errors,
    ...(first ? { note: `first: ${first.slice(0, 120)}` } : {}),
  };
}

export async function benchContention(context: BenchContext): Promise<BenchRow[]> {
  const total = context.size(100_000, 5_000);
  const sqlite = await runQueuectl(total);
  const raw = await rawBusy(total);
  const rows = [
    row(
      "SQLite",
      total,
      sqlite,
      `${fmtCount(raw.busy)} of ${fmtCount(raw.attempts)} write transactions failed with SQLITE_BUSY (raw bun:sqlite, same writers, no busy timeout)`,
    ),
  ];
  if (!context.pgUrl) rows.push(pgSkipped(10, "4 workers + 8 enqueuers", GOAL));
  else {
    const pg = await withPgSchema(context.pgUrl, (url) => runQueuectl(total, url));
    rows.push(row("PostgreSQL", total, pg, "— (no busy errors by design: row locks, SKIP LOCKED)"));
  }
  return rows;
}
