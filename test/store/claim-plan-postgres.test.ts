/**
 * A worker's claim on PostgreSQL must walk the claim index in order and stop after its
 * LIMIT, even when the table has no statistics yet (right after a bulk enqueue, or with
 * autovacuum behind or off). Checked by what the server counted, not by the clock: the
 * index entries the claim read, from pg_stat_user_indexes. A plan that sorts every pending
 * job first reads all of them.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { waitFor } from "../helpers/cli.ts";
import { privateSchema } from "../helpers/pg-schema.ts";
import { newJob, T0 } from "./contract-helpers.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const PENDING = 5_000;

describe.skipIf(!PG_URL)("the PostgreSQL claim plan", () => {
  const { schema, url, admin } = privateSchema(PG_URL ?? "", "qc_claim_plan");

  /** Index entries read through jobs_claim so far, as the statistics system has them. */
  async function claimIndexReads(): Promise<{ scans: number; read: number }> {
    const [row] = await admin`
      SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes
      WHERE schemaname = ${schema} AND indexrelname = 'jobs_claim'`;
    return { scans: Number(row?.idx_scan ?? 0), read: Number(row?.idx_tup_read ?? 0) };
  }

  test("a claim of four reads a handful of index entries out of 5,000 pending, with no statistics", async () => {
    const seeding = await openPostgresStore(url);
    const jobs = Array.from({ length: PENDING }, (_, i) => newJob(`job-${i}`));
    await seeding.jobInsertMany({ jobs, now: T0 });
    await seeding.close();
    // Nothing here analyzes the new table, so the planner has no statistics for it (unless
    // autovacuum happens to get there first, and then the index walk is its own choice).
    const before = await claimIndexReads();
    const worker = await openPostgresStore(url);
    const round = await worker.jobCompleteAndClaim({
      completions: [],
      claim: { workerId: "w", host: "h", leaseMs: 60_000, limit: 4 },
      now: T0 + 1,
    });
    expect(round.claimed.map((job) => job.id)).toEqual(["job-0", "job-1", "job-2", "job-3"]);
    // A backend hands its counters to the statistics system at the latest when it exits.
    await worker.close();
    const after = await waitFor(
      async () => {
        const now = await claimIndexReads();
        return now.scans > before.scans ? now : null;
      },
      { timeoutMs: 20_000, what: "the claim's index scan to be counted" },
    );
    expect(after.read - before.read).toBeLessThan(100);
  });
});
