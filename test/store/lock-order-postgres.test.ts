/**
 * On PostgreSQL a worker renews its leases and saves its jobs' progress on connections of
 * their own while its claim loop completes runs on another, and all three update the same
 * job rows. Locked in different orders, they deadlock and the server aborts one ("deadlock
 * detected", seen as a failed heartbeat under load). All lock in id order; here they race
 * in random orders, round after round, and none may fail. The order of each round comes from a printed, replayable seed.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import type { Job } from "../../src/core/job.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { privateSchema } from "../helpers/pg-schema.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";
import { newJob, runResult } from "./contract-helpers.ts";

setDefaultTimeout(120_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const ROUNDS = 400;
const OK = runResult(0);

describe.skipIf(!PG_URL)("PostgreSQL row locks of one worker's jobs", () => {
  const { url } = privateSchema(PG_URL ?? "", "qc_lock_order");

  test("lease renewals, progress saves and completion rounds racing over the same jobs never deadlock", async () => {
    const random = seededRandom(testSeed("lock-order-postgres"));
    const shuffled = <T>(items: T[]) =>
      items
        .map((item) => ({ item, key: random() }))
        .sort((a, b) => a.key - b.key)
        .map(({ item }) => item);
    const rounds = await openPostgresStore(url);
    const renewals = await openPostgresStore(url);
    const progress = await openPostgresStore(url);
    try {
      // Enough rows that the planner follows the input's order through the primary key (on a
      // small table it scans the table, in one order for both statements).
      const jobs = Array.from({ length: 20_000 }, (_, i) => newJob(`job-${i}`));
      await rounds.jobInsertMany({ jobs, now: 1 });
      const claim = { workerId: "w", host: "h", leaseMs: 600_000, limit: 8 };
      let held: Job[] = (await rounds.jobCompleteAndClaim({ completions: [], claim, now: Date.now() }))
        .claimed;
      const failures: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const ending = shuffled(held).slice(0, 4);
        const [done] = await Promise.all([
          rounds
            .jobCompleteAndClaim({
              completions: ending.map((job) => ({ id: job.id, token: job.token, result: OK })),
              claim: { ...claim, limit: ending.length },
              now: Date.now(),
            })
            .catch((error: Error) => {
              failures.push(`round ${round}, completion: ${error.message}`);
              return null;
            }),
          renewals
            .jobLeaseRenewMany({
              leases: shuffled(held).map((job) => ({ id: job.id, token: job.token })),
              leaseUntil: Date.now() + 600_000,
            })
            .catch((error: Error) => {
              failures.push(`round ${round}, renewal: ${error.message}`);
            }),
          progress
            .jobProgressSave({
              updates: shuffled(held).map((job) => ({
                id: job.id,
                token: job.token,
                pct: round % 100,
                message: null,
              })),
            })
            .catch((error: Error) => {
              failures.push(`round ${round}, progress: ${error.message}`);
            }),
        ]);
        if (done) held = [...held.filter((job) => !ending.includes(job)), ...done.claimed];
      }
      expect(failures).toEqual([]);
    } finally {
      await rounds.close();
      await renewals.close();
      await progress.close();
    }
  });
});

describe.skipIf(!PG_URL)("PostgreSQL row locks of a round that releases dependents", () => {
  const { url, schema, admin } = privateSchema(PG_URL ?? "", "qc_lock_release");

  test("a round that releases dependents claims after it, so a failure cancelling its dependents cannot deadlock with it", async () => {
    const store = await openPostgresStore(url, 2);
    const otherClient = new SQL(PG_URL ?? "", { max: 1 });
    const other = await otherClient.reserve();
    try {
      const now = () => Date.now();
      const claim = { workerId: "w", host: "h", leaseMs: 600_000, limit: 2 };
      // d waits for a and f; p waits for f, which completed once and was queued again, so p
      // is free to run while d still waits.
      await store.jobInsertMany({
        jobs: [
          newJob("a"),
          newJob("f", { priority: 20 }),
          newJob("p", { priority: 10, after: ["f"] }),
          newJob("d", { after: ["a", "f"] }),
        ],
        now: now(),
      });
      const first = await store.jobCompleteAndClaim({ completions: [], claim, now: now() });
      const token = (id: string) => first.claimed.find((job) => job.id === id)?.token ?? -1;
      await store.jobCompleteAndClaim({
        completions: [{ id: "f", token: token("f"), result: OK }],
        claim: null,
        now: now(),
      });
      await store.jobTransition({
        id: "f",
        from: ["completed"],
        to: "pending",
        resetAttempts: true,
        now: now(),
      });
      // f runs again (and is about to fail); p stays pending.
      const again = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...claim, limit: 1 },
        now: now(),
      });
      expect(again.claimed.map((job) => job.id)).toEqual(["f"]);
      // Another transaction locks the dependents in id order, as cancelling f's would: d first.
      await other`BEGIN`;
      await other.unsafe(`SELECT id FROM ${schema}.jobs WHERE id = 'd' FOR UPDATE`);
      const round = store.jobCompleteAndClaim({
        completions: [{ id: "a", token: token("a"), result: OK }],
        claim: { ...claim, limit: 1 },
        now: now(),
      });
      const deadline = Date.now() + 20_000;
      for (;;) {
        const [waiting] = await admin`
          SELECT COUNT(*)::int AS n FROM pg_stat_activity
          WHERE application_name = 'queuectl' AND wait_event_type = 'Lock'`;
        if (Number(waiting.n) > 0) break;
        if (Date.now() > deadline) throw new Error("the round never waited for d's lock");
        await Bun.sleep(10);
      }
      // Then p: had the round claimed p before waiting for d, this would deadlock.
      await other.unsafe(`SELECT id FROM ${schema}.jobs WHERE id = 'p' FOR UPDATE`);
      await other`COMMIT`;
      const { completed, claimed } = await round;
      expect(completed).toEqual([true]);
      expect(claimed.map((job) => job.id)).toEqual(["p"]);
    } finally {
      other.release();
      await otherClient.close();
      await store.close();
    }
  });
});
