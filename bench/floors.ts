/**
 * `bun bench/floors.ts`: what this machine allows under three goals of bench/RESULTS.md,
 * measured with no queue code in the timed part, so a goal above its floor is known to be
 * out of reach here rather than merely missed.
 *
 * - Row 5 on SQLite, one slot: how many pages a claim + complete cycle writes to the WAL
 *   (counted from the WAL's growth), and what a bare commit of that many pages costs, with
 *   the WAL never checkpointed and with SQLite checkpointing it as often as a worker does.
 * - Row 3: bare 100-row INSERTs of 100,000 jobs into the current schema, nothing parsed, and
 *   what that leaves for a whole process once a bare Bun start is added.
 * - Row 5 on PostgreSQL, one slot: a durable one-row commit, and the same without waiting
 *   for the flush (`synchronous_commit = off`), to show what the flush costs.
 *
 * Each figure is the median of 5 runs. Set QUEUECTL_TEST_PG_URL for the PostgreSQL part.
 */

import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { SqliteStore } from "../src/store/sqlite/backend.ts";
import { completeAndClaimMs, seedJobs } from "./claim.ts";
import { benchHome, fmtCount } from "./harness.ts";
import { pgBaseUrl, withPgSchema } from "./postgres.ts";

const RUNS = 5;
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const perSecond = (micros: number) => fmtCount(Math.round(1e6 / micros));

function medianOf(measure: () => number): number {
  return median(Array.from({ length: RUNS }, measure));
}

/** WAL pages one claim + complete cycle writes at one slot, as `worker run` commits them. */
async function pagesPerCycle(dir: string): Promise<number> {
  const path = join(dir, "pages.db");
  const store = new SqliteStore(path, { synchronous: "NORMAL" });
  const cycles = 2_000;
  try {
    await seedJobs(store, 20_000);
    const db = store.database;
    db.run("PRAGMA wal_autocheckpoint = 0");
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    await completeAndClaimMs(store, cycles, 1);
    const pageSize = Number((db.query("PRAGMA page_size").get() as { page_size: number }).page_size);
    const walBytes = statSync(`${path}-wal`).size - WAL_HEADER_BYTES;
    return walBytes / (pageSize + FRAME_HEADER_BYTES) / cycles;
  } finally {
    await store.close();
  }
}

/** A worker's checkpoint thread runs after every this many of its commits (wal-checkpointer.ts). */
const WORKER_CHECKPOINT_COMMITS = 64;

/**
 * µs per commit of `pages` distinct pages, one row each, on a worker's settings. With
 * `checkpointed`, SQLite checkpoints the WAL once it holds a worker's 64 commits, as often
 * as a worker's thread does: each checkpoint syncs the WAL and the database file, and a
 * durable WAL database cannot go without them.
 */
function commitMicros(dir: string, pages: number, checkpointed = false): number {
  const db = new Database(join(dir, `commit-${pages}-${checkpointed}.db`), { create: true, strict: true });
  try {
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA wal_autocheckpoint = 0");
    // A row of about 3,000 bytes fills a 4 KB page on its own.
    db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
    const rows = 20_000;
    db.transaction(() => {
      const insert = db.query("INSERT INTO t VALUES (?, zeroblob(3000))");
      for (let i = 0; i < rows; i++) insert.run(i);
    })();
    const touch = db.query("UPDATE t SET pad = zeroblob(3000) WHERE id = ?");
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    if (checkpointed) db.run(`PRAGMA wal_autocheckpoint = ${pages * WORKER_CHECKPOINT_COMMITS}`);
    const commits = 3_000;
    return medianOf(() => {
      const started = performance.now();
      for (let i = 0; i < commits; i++) {
        db.transaction(() => {
          for (let page = 0; page < pages; page++) touch.run((i * pages + page) % rows);
        }).immediate();
      }
      return ((performance.now() - started) * 1000) / commits;
    });
  } finally {
    db.close();
  }
}

/** Rows/s of bare 100-row INSERTs of 100,000 jobs into the current schema, in one transaction. */
async function bareInsertRate(dir: string): Promise<number> {
  const count = 100_000;
  const perStatement = 100;
  let run = 0;
  const rates: number[] = [];
  for (; run < RUNS; run++) {
    const path = join(dir, `insert-${run}.db`);
    await new SqliteStore(path).close();
    const db = new Database(path, { strict: true });
    try {
      db.run("PRAGMA synchronous = FULL");
      // As the queue's bulk transaction runs (connection.ts, streamTransaction).
      db.run("PRAGMA temp_store = MEMORY");
      const many = db.query(
        `INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at,
                           updated_at, next_run_at, source, declared)
         VALUES ${Array(perStatement).fill("(?, ?, 'r', 'pending', 3, 0, 'default', '[]', 1, 1, 1, NULL, 0)").join(", ")}`,
      );
      const started = performance.now();
      db.transaction(() => {
        const values: string[] = new Array(perStatement * 2);
        for (let first = 0; first < count; first += perStatement) {
          for (let i = 0; i < perStatement; i++) {
            values[2 * i] = `job-${first + i}`;
            values[2 * i + 1] = `{"id":"job-${first + i}","command":"true"}`;
          }
          many.run(...values);
        }
      }).immediate();
      rates.push((count / (performance.now() - started)) * 1000);
    } finally {
      db.close();
    }
  }
  return median(rates);
}

/** Median ms of a bare Bun process (`bun -e 0`), start to exit. */
function bareStartMs(): number {
  return median(
    Array.from({ length: 3 * RUNS }, () => {
      const started = performance.now();
      Bun.spawnSync(["bun", "-e", "0"], { stdio: ["ignore", "ignore", "ignore"] });
      return performance.now() - started;
    }),
  );
}

/** Median µs of a one-row autocommit UPDATE through Bun.sql, with the given synchronous_commit. */
async function pgCommitMicros(url: string, synchronousCommit: "on" | "off"): Promise<number> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? "public";
  parsed.searchParams.delete("schema");
  const sql = new SQL(parsed.toString(), { max: 1, connection: { search_path: schema } });
  try {
    await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await sql`CREATE TABLE floor_rows (id int PRIMARY KEY, v int NOT NULL)`;
    await sql`INSERT INTO floor_rows SELECT g, 0 FROM generate_series(1, 1000) AS g`;
    await sql.unsafe(`SET synchronous_commit = ${synchronousCommit}`);
    const commits = 1_000;
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      for (let i = 0; i < commits; i++)
        await sql`UPDATE floor_rows SET v = v + 1 WHERE id = ${(i % 1000) + 1}`;
      runs.push(((performance.now() - started) * 1000) / commits);
    }
    await sql`DROP TABLE floor_rows`;
    return median(runs);
  } finally {
    await sql.close({ timeout: 0 });
  }
}

async function main(): Promise<void> {
  const home = benchHome();
  const lines: string[] = [];
  try {
    const pages = await pagesPerCycle(home.home);
    const wholePages = Math.round(pages);
    const one = commitMicros(home.home, 1);
    const cycle = commitMicros(home.home, wholePages);
    const checkpointed = commitMicros(home.home, wholePages, true);
    lines.push(
      `- Row 5, SQLite, 1 slot: a claim + complete cycle writes ${pages.toFixed(1)} pages to the WAL. A bare commit of ${wholePages} pages costs ${cycle.toFixed(0)} µs (of 1 page, ${one.toFixed(0)} µs) with the WAL never checkpointed, and ${checkpointed.toFixed(0)} µs with a checkpoint every ${WORKER_CHECKPOINT_COMMITS} commits as a worker has. So one cycle per commit allows at most ${perSecond(cycle)} cycles/s without checkpoints and ${perSecond(checkpointed)} with them, before any statement runs (goal 20,000).`,
    );
    const inserts = await bareInsertRate(home.home);
    const start = bareStartMs();
    const insertMs = (100_000 / inserts) * 1000;
    const wholeProcess = (100_000 / (insertMs + start)) * 1000;
    lines.push(
      `- Row 3: bare 100-row INSERTs of 100,000 jobs into the current schema, committed, nothing parsed or checked, reach ${fmtCount(Math.round(inserts))} rows/s. With a bare Bun start (${start.toFixed(1)} ms) added, a whole process could reach ${fmtCount(Math.round(wholeProcess))} jobs/s before reading its input (goal for the whole CLI process: 200,000 jobs/s).`,
    );
  } finally {
    home.cleanup();
  }
  const pgUrl = pgBaseUrl();
  if (pgUrl) {
    await withPgSchema(pgUrl, async (url) => {
      const durable = await pgCommitMicros(url, "on");
      const unflushed = await pgCommitMicros(url, "off");
      lines.push(
        `- Row 5, PostgreSQL, 1 slot: a durable one-row commit takes ${durable.toFixed(0)} µs (${unflushed.toFixed(0)} µs without waiting for the flush). A claim is durable before its process starts, so one job per commit allows at most ${perSecond(durable)} cycles/s (goal 5,000).`,
      );
    });
  } else {
    lines.push("- Row 5, PostgreSQL: skipped (QUEUECTL_TEST_PG_URL is not set).");
  }
  console.log(lines.join("\n"));
}

await main();
