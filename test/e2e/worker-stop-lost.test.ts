/**
 * `worker stop --all` with workers on other hosts that are lost (their heartbeat older than
 * `status` allows): they are reported as lost, the way `status` shows them, and never counted
 * among the workers asked to stop, since no request reaches a dead worker. On both backends:
 * PostgreSQL stamps heartbeats with the server's clock, so there the rows are aged in place.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import type { Store } from "../../src/store/store.ts";
import { runCli, runCliJson, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores, withTestStore } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

interface StatusJson {
  workers: { id: string; alive: boolean }[];
}

/** Ten minutes: far past the 10 s a worker may stay silent with the default lease. */
const SILENT_MS = 600_000;

for (const backend of testStores("worker-stop-lost", "qc_stop_lost")) {
  describe(`worker stop --all with lost workers (${backend.name})`, () => {
    let home: TempHome;
    beforeAll(() => {
      home = tempHome({ ...(backend.db ? { QUEUECTL_DB: backend.db } : {}), QUEUECTL_HOST: "host-c" });
    });
    afterAll(() => home?.cleanup());

    const withStore = <T>(work: (store: Store) => Promise<T>) => withTestStore(backend, home, work);

    /** Moves the workers' last heartbeat SILENT_MS into the past, on the clock the store keeps it by. */
    async function silence(ids: string[]): Promise<void> {
      if (!backend.db) {
        const db = new Database(join(home.home, "jobs.db"));
        try {
          for (const id of ids)
            db.query("UPDATE workers SET heartbeat_at = heartbeat_at - ? WHERE id = ?").run(SILENT_MS, id);
        } finally {
          db.close();
        }
        return;
      }
      const schema = new URL(backend.db).searchParams.get("schema");
      const sql = new SQL(process.env.QUEUECTL_TEST_PG_URL as string, { max: 1 });
      try {
        await sql.unsafe(`UPDATE ${schema}.workers SET heartbeat_at = heartbeat_at - $1 WHERE id = ANY($2)`, [
          SILENT_MS,
          ids,
        ]);
      } finally {
        await sql.close();
      }
    }

    test("lost workers are reported as lost, not as asked; a live one is still asked", async () => {
      await withStore(async (store) => {
        for (const [id, pid] of [
          ["dead-1", 101],
          ["dead-2", 102],
        ] as const)
          await store.workerRegister({ id, host: "host-a", pid, now: Date.now(), queues: null });
      });
      await silence(["dead-1", "dead-2"]);
      const status = await runCliJson<StatusJson>(["status"], { env: home.env });
      expect(status.workers.map((worker) => [worker.id, worker.alive]).sort()).toEqual([
        ["dead-1", false],
        ["dead-2", false],
      ]);

      const text = succeeded(await runCli(["worker", "stop", "--all"], { env: home.env }));
      expect(text).toContain("No workers running on this host.");
      expect(text).toContain("2 worker(s) on other hosts are lost (no heartbeat)");
      expect(text).not.toContain("Asked");

      await withStore((store) =>
        store.workerRegister({ id: "live-b", host: "host-b", pid: 201, now: Date.now(), queues: null }),
      );
      const report = await runCliJson<{ remote_asked: number; lost: number }>(["worker", "stop", "--all"], {
        env: home.env,
      });
      expect(report).toMatchObject({ remote_asked: 1, lost: 2 });
    });
  });
}
