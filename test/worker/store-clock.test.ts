/**
 * A worker on PostgreSQL reads the time from the server's clock (through an offset measured
 * over one round trip). A job queued for "now" by a process on the server's host carries
 * that host's clock, so the worker's clock must never run behind it: a job one millisecond
 * "early" to the claim waited a whole poll interval, about one start in twenty in a bench
 * right after the workers started. The round trip's slowness is played by this host's
 * clock reading later on its second read; the server's answer is real.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { StoreClock } from "../../src/worker/store-clock.ts";
import { privateSchema } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

describe.skipIf(!PG_URL)("a worker's clock on PostgreSQL", () => {
  const { url } = privateSchema(PG_URL ?? "", "qc_store_clock");

  test("never runs behind this host's clock, however long the round trip looked, and ahead by at most the real one", async () => {
    const store = await openPostgresStore(url);
    try {
      for (const slowMs of [0, 5, 50, 500]) {
        // While syncing, every read of this host's clock after the first comes `slowMs` late.
        let readsWhileSyncing: number | null = 0;
        const local = () => Date.now() + (readsWhileSyncing !== null && ++readsWhileSyncing > 1 ? slowMs : 0);
        const clock = new StoreClock(store, local);
        const before = Date.now();
        await clock.sync();
        readsWhileSyncing = null;
        const roundTripMs = Date.now() - before;
        const queuedAt = Date.now();
        const workerNow = clock.now();
        expect({ slowMs, behindMs: Math.max(0, queuedAt - workerNow) }).toEqual({ slowMs, behindMs: 0 });
        expect(workerNow - Date.now()).toBeLessThanOrEqual(roundTripMs + 1);
      }
    } finally {
      await store.close();
    }
  });
});
