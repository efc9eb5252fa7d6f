/**
 * On PostgreSQL a worker frozen or cut off in the middle of a transaction keeps the rows it
 * touched locked until the server ends that transaction, which may take as long as TCP
 * keepalive (hours). A rescue that waited on such a row held back the rescue of every other
 * lapsed lease; it skips the row instead, and takes it on a later check once it is free. A
 * worker's connections ask the server to end a transaction left waiting (the store's
 * idleInTransactionMs), so such locks last a minute, not hours; and a command that meets such
 * a row fails after its lock timeout with one line, as on SQLite, instead of hanging.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
import { openStore } from "../../src/store/open.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import type { ImportBatch } from "../../src/store/store.ts";
import { rescueExpiredLeases } from "../../src/worker/rescue.ts";
import { privateSchema } from "../helpers/pg-schema.ts";
import { newJob } from "../store/contract-helpers.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

/** Settles with `what` if `work` has not settled within `ms`, so a hang fails instead of stalling. */
function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)),
  ]);
}

describe.skipIf(!PG_URL)("a job row held by a frozen transaction (PostgreSQL)", () => {
  const { url, schema, admin } = privateSchema(PG_URL ?? "", "qc_rescue_lock");

  /**
   * A transaction left open on job `id`'s row, as by a worker frozen in the middle of one;
   * resolves once the row is locked. `release` ends it and waits until it has.
   */
  async function holdRow(id: string): Promise<{ release: () => Promise<void> }> {
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    let letGo = () => {};
    const released = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    const holder = admin.begin(async (tx) => {
      await tx.unsafe(`SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [id]);
      locked();
      await released;
    });
    await isLocked;
    return {
      release: async () => {
        letGo();
        await holder;
      },
    };
  }

  test("a lapsed job whose row another transaction holds is skipped; the others are rescued at once", async () => {
    const store = await openPostgresStore(url);
    let lock: { release: () => Promise<void> } | null = null;
    try {
      await store.jobInsertMany({ jobs: [newJob("held"), newJob("free")], now: 1 });
      const claim = { workerId: "w-dead", host: "h", leaseMs: 1, limit: 2 };
      const { claimed } = await store.jobCompleteAndClaim({ completions: [], claim, now: Date.now() });
      expect(claimed.map((job) => job.id).sort()).toEqual(["free", "held"]);
      lock = await holdRow("held");
      const config = resolveConfig({});
      const rescue = () =>
        rescueExpiredLeases(store, {
          now: Date.now() + 60_000,
          config,
          ownTokens: new Map(),
          pidSpace: null,
        });
      const first = await within(10_000, rescue(), "the rescue beside the locked row");
      expect(first.map((rescued) => rescued.job.id)).toEqual(["free"]);
      expect((await store.jobGet({ id: "held" }))?.state).toBe("processing");
      await lock.release();
      const second = await within(10_000, rescue(), "the rescue once the row is free");
      expect(second.map((rescued) => rescued.job.id)).toEqual(["held"]);
    } finally {
      await lock?.release();
      await store.close();
    }
  });

  test("a store opened with idleInTransactionMs has a transaction that waits too long ended by the server", async () => {
    /** One empty batch, then a pause inside the import's transaction, as a frozen writer makes. */
    async function* stalled(pauseMs: number): AsyncIterable<ImportBatch> {
      yield { jobs: [] };
      await Bun.sleep(pauseMs);
    }
    const strict = await openStore({ url, idleInTransactionMs: 300 });
    const lenient = await openStore({ url });
    try {
      const refused = await strict
        .jobImportStream({ batches: stalled(1_500) })
        .catch((error: Error) => error);
      expect(refused).toBeInstanceOf(Error);
      // The same pause without the setting commits.
      expect(await lenient.jobImportStream({ batches: stalled(1_500) })).toMatchObject({ jobsImported: 0 });
    } finally {
      await strict.close().catch(() => {});
      await lenient.close();
    }
  });

  test("a command that meets a row held past its lock timeout fails with one line instead of waiting", async () => {
    const holderStore = await openPostgresStore(url);
    const store = await openStore({ url, lockTimeoutMs: 300 });
    let lock: { release: () => Promise<void> } | null = null;
    try {
      await holderStore.jobInsertMany({ jobs: [newJob("busy")], now: 1 });
      lock = await holdRow("busy");
      const cancel = store.jobTransition({
        id: "busy",
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: Date.now(),
      });
      const error = await within(
        10_000,
        cancel.then(
          () => null,
          (caught: Error) => caught,
        ),
        "the cancel of a locked row",
      );
      expect(error?.message).toContain("a row this command needs stayed locked by another transaction");
      expect(error?.message.split("\n")).toHaveLength(1);
      await lock.release();
      expect((await store.jobGet({ id: "busy" }))?.state).toBe("pending");
    } finally {
      await lock?.release();
      await store.close();
      await holderStore.close();
    }
  });
});
