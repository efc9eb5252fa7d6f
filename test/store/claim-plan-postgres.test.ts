/**
 * A worker's claim on PostgreSQL must walk the claim index in order and stop after its
 * LIMIT, even when the table has no statistics yet (right after a bulk enqueue, or with
 * autovacuum behind or off). Checked by what the server counted, not by the clock: the
 * index entries the claim read, from pg_stat_user_indexes. A plan that sorts every pending
 * job first reads all of them. And the planner settings a round changes for one statement
 * do not outlive it in the round's transaction.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { SQL } from "bun";
import type { Job } from "../../src/core/job.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { completeAndClaim } from "../../src/store/postgres/complete-many.ts";
import { waitFor } from "../helpers/cli.ts";
import { privateSchema } from "../helpers/pg-schema.ts";
import { SUCCESS } from "../jobfiles/helpers.ts";
import { newJob, T0 } from "./contract-helpers.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const PENDING = 5_000;

describe.skipIf(!PG_URL)("the PostgreSQL claim plan", () => {
  const { schema, url, admin } = privateSchema(PG_URL ?? "", "qc_claim_plan");

  /**
   * `read`'s counters once `arrived` says a closed connection's have reached the statistics
   * system, which a backend hands them at the latest when it exits.
   */
  function countedOnce<T>(read: () => Promise<T>, arrived: (now: T) => boolean, what: string): Promise<T> {
    return waitFor(
      async () => {
        const now = await read();
        return arrived(now) ? now : null;
      },
      { timeoutMs: 20_000, what: `${what} to be counted` },
    );
  }

  /** Index entries read through the claim indexes so far, as the statistics system has them. */
  async function claimIndexReads(): Promise<{ scans: number; read: number }> {
    const [row] = await admin`
      SELECT SUM(idx_scan) AS idx_scan, SUM(idx_tup_read) AS idx_tup_read FROM pg_stat_user_indexes
      WHERE schemaname = ${schema} AND indexrelname IN ('jobs_claim', 'jobs_queue_claim')`;
    return { scans: Number(row?.idx_scan ?? 0), read: Number(row?.idx_tup_read ?? 0) };
  }

  /**
   * What a worker's round that claims up to `limit` jobs from `queues` (null: every queue)
   * claimed, and how many index entries it read. A backend hands its counters to the
   * statistics system at the latest when it exits, so the round has a connection of its own.
   */
  async function claimRound(
    limit: number,
    queues: string[] | null,
  ): Promise<{ ids: string[]; read: number }> {
    const before = await claimIndexReads();
    const worker = await openPostgresStore(url);
    const round = await worker.jobCompleteAndClaim({
      completions: [],
      claim: { workerId: "w", host: "h", leaseMs: 60_000, limit, queues },
      now: T0 + 1,
    });
    await worker.close();
    const after = await countedOnce(
      claimIndexReads,
      (now) => now.scans > before.scans,
      "the claim's index scans",
    );
    return { ids: round.claimed.map((job) => job.id), read: after.read - before.read };
  }

  test("a claim of four reads a handful of index entries out of 5,000 pending, with no statistics", async () => {
    const seeding = await openPostgresStore(url);
    const jobs = Array.from({ length: PENDING }, (_, i) => newJob(`job-${i}`));
    await seeding.jobInsertMany({ jobs, now: T0 });
    await seeding.close();
    // Nothing here analyzes the new table, so the planner has no statistics for it (unless
    // autovacuum happens to get there first, and then the index walk is its own choice).
    const round = await claimRound(4, null);
    expect(round.ids).toEqual(["job-0", "job-1", "job-2", "job-3"]);
    expect(round.read).toBeLessThan(100);
  });

  test("a claim reads a handful of index entries past 5,000 waiting jobs of a paused queue, for one queue or all", async () => {
    // The first test left its backlog in the default queue; this one puts a paused queue's
    // backlog, of higher priority, ahead of everything.
    const store = await openPostgresStore(url);
    const held = Array.from({ length: PENDING }, (_, i) =>
      newJob(`held-${i}`, { queue: "held", priority: 9 }),
    );
    await store.jobInsertMany({ jobs: [...held, newJob("mine-1", { queue: "mine" })], now: T0 });
    await store.queueSet({ name: "held", paused: true });
    await store.close();
    const mine = await claimRound(2, ["mine"]);
    expect(mine.ids).toEqual(["mine-1"]);
    expect(mine.read).toBeLessThan(100);
    const every = await claimRound(2, null);
    expect(every.ids).toEqual(["job-4", "job-5"]);
    expect(every.read).toBeLessThan(100);
  });

  test("a connection that first claimed from a small table still claims by index once the table is large", async () => {
    // A generic plan is made at a connection's first claim and kept: made while the table
    // held a few rows, it read the whole table at every later claim (18 ms a round at
    // 200,000 jobs) unless sequential scans are off for the claim. Rows are put in with
    // plain INSERTs, which scan nothing, so any rows read by a sequential scan are the worker's.
    const scans = async () => {
      const [row] = await admin`
        SELECT seq_tup_read, idx_scan FROM pg_stat_user_tables WHERE schemaname = ${schema} AND relname = 'jobs'`;
      return { seqRead: Number(row?.seq_tup_read ?? 0), idx: Number(row?.idx_scan ?? 0) };
    };
    const insert = (prefix: string, count: number) =>
      admin.unsafe(`
        INSERT INTO ${schema}.jobs (id, spec, revision, state, max_retries, priority, queue, created_at, updated_at, next_run_at)
        SELECT '${prefix}-' || g, jsonb_build_object('id', '${prefix}-' || g, 'command', 'true'), 'r', 'pending', 3, 0,
               'big', ${T0}, ${T0}, ${T0} + g
        FROM generate_series(1, ${count}) AS g`);
    // Opened first: it makes the schema when this test runs alone. It claims nothing yet.
    const worker = await openPostgresStore(url);
    await admin.unsafe(`TRUNCATE ${schema}.jobs CASCADE`);
    await insert("few", 2_000);
    const before = await scans();
    const claim = { workerId: "w", host: "h", leaseMs: 60_000, limit: 4, queues: ["big"] };
    let held: Job[] = [];
    const round = async () => {
      const completions = held.map((job) => ({ id: job.id, token: job.token, result: SUCCESS }));
      held = (await worker.jobCompleteAndClaim({ completions, claim, now: T0 + PENDING * 10 })).claimed;
    };
    for (let i = 0; i < 6; i++) await round();
    await insert("many", PENDING * 4);
    for (let i = 0; i < 3; i++) await round();
    expect(held.length).toBe(4);
    await worker.close();
    const after = await countedOnce(scans, (now) => now.idx > before.idx, "the worker's index scans");
    // Rows read by sequential scans: a scan of the grown table reads over 20,000 each time
    // (a store's first open may scan its empty tables, which reads none).
    expect(after.seqRead - before.seqRead).toBeLessThan(1_000);
  });

  test("a round leaves the planner as it found it for what follows in its transaction", async () => {
    // The completion runs on a generic plan and the claim with its own planner settings; the
    // round's extras after them (a jobfile's revision recorded) must not, whether the claim
    // named its queues or not.
    const store = await openPostgresStore(url);
    // A queue of their own: the first test left its backlog in the default queue.
    const jobs = [newJob("plan-a", { queue: "plan" })];
    // Jobfiles' jobs: their completions have extras (their revisions are recorded).
    jobs.push(newJob("plan-b", { queue: "plan", source: "plan-b.yaml" }));
    jobs.push(newJob("plan-c", { queue: "plan", source: "plan.yaml" }));
    await store.jobInsertMany({ jobs, now: T0 });
    const claim = { workerId: "w", host: "h", leaseMs: 60_000, limit: 3, queues: ["plan"] };
    const { claimed } = await store.jobCompleteAndClaim({ completions: [], claim, now: T0 + 1 });
    await store.close();
    expect(claimed.map((job) => job.id)).toEqual(["plan-a", "plan-b", "plan-c"]);
    const settings = (tx: SQL) =>
      tx`SELECT current_setting('plan_cache_mode') AS plan, current_setting('enable_sort') AS sort,
                current_setting('enable_seqscan') AS seqscan, current_setting('jit') AS jit`.then(
        (rows: Record<string, string>[]) => rows[0],
      );
    const before = await admin.begin(settings);
    /** Completes `job` in a round that claims one more from `queues` (null: every queue). */
    const settingsAfterRound = (job: Job, queues: string[] | null) =>
      admin.begin(async (tx) => {
        await tx.unsafe(`SET LOCAL search_path TO ${schema}`);
        const round = await completeAndClaim(
          tx,
          schema,
          {
            completions: [{ id: job.id, token: job.token, result: SUCCESS }],
            claim: { ...claim, limit: 1, queues },
            now: T0 + 2,
          },
          async () => {},
        );
        expect(round.completed).toEqual([true]);
        return settings(tx);
      });
    const [declared, alsoDeclared] = claimed.slice(1) as [Job, Job];
    expect(await settingsAfterRound(declared, ["plan"])).toEqual(before);
    expect(await settingsAfterRound(alsoDeclared, null)).toEqual(before);
  });
});
