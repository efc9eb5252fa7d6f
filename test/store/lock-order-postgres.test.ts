/**
 * On PostgreSQL a worker renews its leases and saves its jobs' progress on connections of
 * their own while its claim loop completes runs on another, and all three update the same
 * job rows. Locked in different orders, they deadlock and the server aborts one ("deadlock
 * detected", seen as a failed heartbeat under load). All lock in id order; here they race
 * in random orders, round after round, and none may fail. The order of each round comes from a printed, replayable seed.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
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
